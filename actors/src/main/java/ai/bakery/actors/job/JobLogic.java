package ai.bakery.actors.job;

import ai.bakery.actors.job.JobEvent.BatchesReady;
import ai.bakery.actors.job.JobEvent.GroupReady;
import ai.bakery.actors.job.JobEvent.StepDone;
import ai.bakery.actors.job.JobEvent.StepFailed;
import ai.bakery.actors.job.JobEvent.Tick;
import ai.bakery.actors.job.JobEvent.WorkerDown;
import ai.bakery.actors.job.JobEvent.WorkerUp;
import ai.bakery.actors.job.JobPhase.Finished;
import ai.bakery.actors.job.JobPhase.Forming;
import ai.bakery.actors.job.JobPhase.Idle;
import ai.bakery.actors.job.JobPhase.Stepping;
import ai.bakery.actors.job.JobPhase.Waiting;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The coordinator's job state machine, free of actors, sockets and clocks (time is injected), so the whole
 * elastic protocol runs in a seeded simulation.
 *
 * <p>The step protocol is two-phase: a worker reports {@link StepDone} after its gradient all-reduce and
 * applies the optimizer update only when it sees the {@link JobEffect.Commit}. A step whose rank dies commits
 * anyway when every survivor finished the reduction (the dead rank's gradient is in it, so its batches are
 * trained); it aborts when any survivor failed, and its batches are served again. Membership changes take
 * effect at step boundaries as a new generation; messages of older generations are ignored.
 */
public final class JobLogic {
  private final JobPolicy policy;
  private final LongSupplier clock;
  private DataLedger ledger;
  private final Set<String> live = new LinkedHashSet<>();
  private final Set<String> leaving = new HashSet<>();
  private long generation;
  private long committedStep;
  private boolean dataEnded;
  private JobPhase phase = new Waiting();
  /** The job step every rank of the next group loads from its checkpoint, or -1 (the ranks hold the state). */
  private long restoreStep = -1;
  /**
   * Formations in a row that a rank reported failed; past {@link #QUICK_REFORMS} a failure waits for the form
   * timeout instead, which drops the ranks that never became ready (one broken worker cannot spin the job).
   */
  private int failedForms;
  static final int QUICK_REFORMS = 3;
  /** The newest complete checkpoint, or null: where the job goes back to when the workers lost the state. */
  private CheckpointRef latest;
  /** Checkpoints being written, by step. */
  private final Map<Long, PendingSave> saves = new java.util.TreeMap<>();

  /** A checkpoint whose ranks write their parts; committed once all reported them durable. */
  private static final class PendingSave {
    final long step;
    final String saveId;
    final List<String> ranks;
    final JobSnapshot snapshot;
    final long deadlineMillis;
    final Map<String, JobEvent.CheckpointPartSaved> reported = new LinkedHashMap<>();
    boolean committing;

    PendingSave(long step, String saveId, List<String> ranks, JobSnapshot snapshot, long deadlineMillis) {
      this.step = step;
      this.saveId = saveId;
      this.ranks = List.copyOf(ranks);
      this.snapshot = snapshot;
      this.deadlineMillis = deadlineMillis;
    }
  }

  public JobLogic(JobPolicy policy, LongSupplier clockMillis) {
    this(policy, clockMillis, new DataLedger(), 0, 0);
  }

  /** Resumes a job (after a coordinator fail-over) from its snapshot: a new generation will be formed. */
  public JobLogic(JobPolicy policy, LongSupplier clockMillis, DataLedger ledger, long generation, long committedStep) {
    this.policy = policy;
    this.clock = clockMillis;
    this.ledger = ledger;
    this.generation = generation;
    this.committedStep = committedStep;
    if (policy.maxSteps() > 0 && committedStep >= policy.maxSteps()) {
      phase = new Finished(); // a successor taking over a finished job (its node stopped first) just says so
    }
  }

  /**
   * The job's logic when its coordinator starts: from the stored snapshot (a fail-over, or a restart of a job that
   * ran before), or from the newest complete checkpoint when there is no stored state or the checkpoint is newer
   * (then every rank of the first group loads it).
   *
   * @param stored the coordinator's own snapshot of the job, if any
   * @param checkpoint the newest complete checkpoint, if any; with a stored snapshot it is where the job goes back to
   *     should the workers have lost the state
   * @param resumeFromCheckpoint whether a job without a stored snapshot starts from {@code checkpoint}
   *     ({@code auto_resume}); otherwise it starts fresh and ignores checkpoints of earlier runs
   */
  public static JobLogic start(JobPolicy policy, LongSupplier clockMillis, java.util.Optional<JobSnapshot> stored,
      java.util.Optional<CheckpointRef> checkpoint, boolean resumeFromCheckpoint) {
    if (stored.isEmpty() && (!resumeFromCheckpoint || checkpoint.isEmpty())) {
      return new JobLogic(policy, clockMillis);
    }
    if (stored.isPresent() && (checkpoint.isEmpty() || checkpoint.get().step() <= stored.get().committedStep())) {
      JobLogic logic = stored.get().resume(policy, clockMillis);
      logic.latest = checkpoint.orElse(null);
      return logic;
    }
    CheckpointRef cp = checkpoint.orElseThrow();
    long generation = Math.max(cp.snapshot().generation(), stored.map(JobSnapshot::generation).orElse(0L));
    JobLogic logic = new JobLogic(policy, clockMillis, cp.snapshot().ledger(), generation, cp.step());
    logic.latest = cp;
    logic.restoreStep = cp.step();
    return logic;
  }

  public List<JobEffect> handle(JobEvent event) {
    List<JobEffect> out = new ArrayList<>();
    if (phase instanceof Finished) {
      return out;
    }
    if (phase instanceof JobPhase.Finishing f) {
      onFinishing(f, event, out);
      return out;
    }
    // Java 17: no pattern switch yet
    if (event instanceof WorkerUp e) {
      onWorkerUp(e, out);
    } else if (event instanceof WorkerDown e) {
      onWorkerDown(e, out);
    } else if (event instanceof GroupReady e) {
      onGroupReady(e, out);
    } else if (event instanceof JobEvent.GroupFailed e) {
      onGroupFailed(e, out);
    } else if (event instanceof StepDone e) {
      onStepDone(e, out);
    } else if (event instanceof StepFailed e) {
      onStepFailed(e, out);
    } else if (event instanceof BatchesReady e) {
      onBatches(e, out);
    } else if (event instanceof JobEvent.ShardLost e) {
      onShardLost(e, out);
    } else if (event instanceof JobEvent.DataEnd) {
      dataEnded = true;
      if (phase instanceof Idle) {
        startStepIfPossible(out);
      }
    } else if (event instanceof Tick) {
      onTick(out);
      checkSaveDeadlines(out);
    } else if (event instanceof JobEvent.StateLost e) {
      onStateLost(e, out);
    } else {
      onCheckpointEvent(event, out);
    }
    return out;
  }

  /** After the last step only the final checkpoint matters: the job ends once it is committed or given up. */
  private void onFinishing(JobPhase.Finishing f, JobEvent event, List<JobEffect> out) {
    if (event instanceof WorkerDown e) {
      live.remove(e.worker());
      abandonSavesOf(e.worker(), out);
    } else if (event instanceof Tick) {
      checkSaveDeadlines(out);
    } else {
      onCheckpointEvent(event, out);
    }
    if (!saves.containsKey(f.step())) {
      phase = new Finished();
    }
  }

  private void onCheckpointEvent(JobEvent event, List<JobEffect> out) {
    if (event instanceof JobEvent.CheckpointPartSaved e) {
      PendingSave p = saves.get(e.step());
      if (p == null || !p.saveId.equals(e.saveId()) || !p.ranks.contains(e.worker()) || p.committing) {
        return;
      }
      p.reported.put(e.worker(), e);
      if (p.reported.size() == p.ranks.size()) {
        commitSave(p, out);
      }
    } else if (event instanceof JobEvent.CheckpointPartFailed e) {
      PendingSave p = saves.get(e.step());
      if (p != null && p.saveId.equals(e.saveId()) && !p.committing) {
        abandon(p, "rank " + e.worker() + " could not write its part: " + e.reason(), out);
      }
    } else if (event instanceof JobEvent.CheckpointCommitted e) {
      PendingSave p = saves.get(e.step());
      if (p != null && p.saveId.equals(e.saveId())) {
        saves.remove(e.step());
        if (latest == null || p.step >= latest.step()) {
          latest = new CheckpointRef(p.step, p.snapshot);
        }
      }
    } else if (event instanceof JobEvent.CheckpointFailed e) {
      PendingSave p = saves.get(e.step());
      if (p != null && p.saveId.equals(e.saveId())) {
        saves.remove(e.step());
        out.add(new JobEffect.CheckpointAbandoned(e.step(), e.reason()));
      }
    }
  }

  /** Every rank reported: the parts must be exactly 0..n-1 of one world, part 0 bringing the step-wide files. */
  private void commitSave(PendingSave p, List<JobEffect> out) {
    int parts = -1;
    Set<Integer> seen = new java.util.TreeSet<>();
    Map<String, String> stepFiles = null;
    for (JobEvent.CheckpointPartSaved e : p.reported.values()) {
      if (e.part() < 0) {
        continue;
      }
      if (parts >= 0 && e.parts() != parts) {
        abandon(p, "ranks disagree on the number of parts (" + parts + " and " + e.parts() + ")", out);
        return;
      }
      parts = e.parts();
      if (e.part() >= parts || !seen.add(e.part())) {
        abandon(p, "part " + e.part() + " of " + parts + " reported twice or out of range", out);
        return;
      }
      if (e.part() == 0) {
        stepFiles = e.stepFiles();
      }
    }
    if (parts < 1 || seen.size() != parts) {
      abandon(p, "only parts " + seen + " of " + Math.max(parts, 0) + " were written (a rank holding the rest is gone)",
          out);
      return;
    }
    p.committing = true;
    out.add(new JobEffect.CommitCheckpoint(p.step, p.saveId, parts, p.snapshot, stepFiles));
  }

  private void abandon(PendingSave p, String reason, List<JobEffect> out) {
    saves.remove(p.step);
    out.add(new JobEffect.CheckpointAbandoned(p.step, reason));
  }

  /** A rank that dies before its part is durable leaves the checkpoint torn. */
  private void abandonSavesOf(String worker, List<JobEffect> out) {
    for (PendingSave p : new ArrayList<>(saves.values())) {
      if (!p.committing && p.ranks.contains(worker) && !p.reported.containsKey(worker)) {
        abandon(p, "rank " + worker + " was lost before its part was durable", out);
      }
    }
  }

  private void checkSaveDeadlines(List<JobEffect> out) {
    long now = clock.getAsLong();
    for (PendingSave p : new ArrayList<>(saves.values())) {
      if (!p.committing && now >= p.deadlineMillis) {
        abandon(p, "not every part was durable within " + policy.checkpointTimeout().toSeconds() + " s", out);
      }
    }
  }

  /** Asks the group that committed {@code step} to save it; the job's state is captured now, at the commit. */
  private void save(long generation, long step, List<String> ranks, List<JobEffect> out) {
    if (ranks.isEmpty() || saves.containsKey(step)) {
      return;
    }
    JobSnapshot at = new JobSnapshot(generation, step, ledger.committed(), ledger.queued(), ledger.resumePositions());
    String saveId = "g" + generation + "-s" + step;
    saves.put(step, new PendingSave(step, saveId, ranks, at,
        clock.getAsLong() + policy.checkpointTimeout().toMillis()));
    out.add(new JobEffect.SaveCheckpoint(generation, step, saveId, ranks));
  }

  /**
   * No rank of the forming group holds the committed state: go back to the newest complete checkpoint (or to the
   * start when there is none), serve again every batch trained after it, restart the data shards from the
   * positions it recorded, and have every rank load it.
   */
  private void onStateLost(JobEvent.StateLost e, List<JobEffect> out) {
    if (!(phase instanceof Forming f) || e.generation() != f.generation() || !f.ranks().contains(e.worker())) {
      return;
    }
    long from = committedStep;
    if (latest == null && committedStep == 0) {
      out.add(new JobEffect.Fail("generation " + e.generation() + " holds no usable state (" + e.reason()
          + ") and there is no checkpoint to restore"));
      phase = new Finished();
      return;
    }
    if (latest != null && latest.step() == committedStep) {
      // the checkpoint holds the committed step itself: no batch to serve again, the data shards go on
      restoreStep = committedStep;
      out.add(new JobEffect.Rewind(from, committedStep, e.reason()));
      formGroup(out);
      return;
    }
    for (PendingSave p : new ArrayList<>(saves.values())) {
      abandon(p, "the job goes back to step " + (latest == null ? 0 : latest.step()), out);
    }
    Set<String> shards = new java.util.TreeSet<>(ledger.shards());
    if (latest != null) {
      ledger = latest.snapshot().ledger();
      committedStep = latest.step();
      restoreStep = latest.step();
    } else {
      ledger = new DataLedger();
      committedStep = 0;
      restoreStep = -1; // fresh ranks hold the start
    }
    shards.addAll(ledger.shards());
    dataEnded = false;
    out.add(new JobEffect.Rewind(from, committedStep, e.reason()));
    for (String shard : shards) {
      out.add(ledger.dropShard(shard));
    }
    formGroup(out);
  }

  private void onWorkerUp(WorkerUp e, List<JobEffect> out) {
    if (!live.add(e.worker())) {
      return;
    }
    // A joiner waits for the step boundary; between steps the group is formed again at once.
    if (!(phase instanceof Stepping) && eligible().size() > currentRanks().size()) {
      formGroup(out);
    }
  }

  private void onWorkerDown(WorkerDown e, List<JobEffect> out) {
    String w = e.worker();
    if (!e.graceful()) {
      abandonSavesOf(w, out);
    }
    if (e.graceful() && live.contains(w)) {
      leaving.add(w);
      if (phase instanceof Stepping s && s.ranks().contains(w)) {
        return; // it finishes its step first, then hands its shards over and leaves
      }
      live.remove(w);
      leaving.remove(w);
      abandonSavesOf(w, out);
      out.add(new JobEffect.Release(w));
      if (currentRanks().contains(w)) {
        formGroup(out);
      }
      return;
    }
    if (!live.remove(w)) {
      return;
    }
    leaving.remove(w);
    if (phase instanceof Stepping s && s.ranks().contains(w)) {
      Set<String> lost = new HashSet<>(s.lost());
      lost.add(w);
      phase = new Stepping(s.generation(), s.ranks(), s.step(), s.assignment(), s.done(), lost, s.deadlineMillis());
      settleStep(out);
    } else if (currentRanks().contains(w)) {
      formGroup(out); // forming or idle: form again without it
    }
    // otherwise a standby worker left; nothing to change
  }

  private void onGroupReady(GroupReady e, List<JobEffect> out) {
    if (!(phase instanceof Forming f) || e.generation() != f.generation() || !f.ranks().contains(e.worker())) {
      return;
    }
    Set<String> ready = new HashSet<>(f.ready());
    ready.add(e.worker());
    if (ready.size() < f.ranks().size()) {
      phase = new Forming(f.generation(), f.ranks(), ready, f.deadlineMillis());
      return;
    }
    phase = new Idle(f.generation(), f.ranks());
    failedForms = 0;
    restoreStep = -1; // the group holds the restored state now
    startStepIfPossible(out);
  }

  private void onGroupFailed(JobEvent.GroupFailed e, List<JobEffect> out) {
    if (!(phase instanceof Forming f) || e.generation() != f.generation() || !f.ranks().contains(e.worker())) {
      return;
    }
    if (++failedForms > QUICK_REFORMS) {
      return; // the form timeout decides, dropping whoever never got ready
    }
    formGroup(out);
  }

  private void onStepDone(StepDone e, List<JobEffect> out) {
    if (!(phase instanceof Stepping s) || e.generation() != s.generation() || e.step() != s.step()
        || !s.ranks().contains(e.worker()) || s.lost().contains(e.worker())) {
      return;
    }
    Set<String> done = new HashSet<>(s.done());
    done.add(e.worker());
    phase = new Stepping(s.generation(), s.ranks(), s.step(), s.assignment(), done, s.lost(), s.deadlineMillis());
    settleStep(out);
  }

  private void onStepFailed(StepFailed e, List<JobEffect> out) {
    if (!(phase instanceof Stepping s) || e.generation() != s.generation() || e.step() != s.step()
        || !s.ranks().contains(e.worker())) {
      return;
    }
    abortStep(s, "rank " + e.worker() + " failed: " + e.reason(), out);
    formGroup(out);
  }

  private void onShardLost(JobEvent.ShardLost e, List<JobEffect> out) {
    // A step fetching from the dead shard cannot finish: abort it so its batches are packed again.
    if (phase instanceof Stepping s && s.assignment().values().stream()
        .anyMatch(bs -> bs.stream().anyMatch(b -> b.shard().equals(e.shard())))) {
      abortStep(s, "data shard " + e.shard() + " lost", out);
      out.add(ledger.dropShard(e.shard()));
      formGroup(out); // a new generation, so late reports of the abandoned attempt are ignored
    } else {
      out.add(ledger.dropShard(e.shard()));
    }
    dataEnded = false;
  }

  private void onBatches(BatchesReady e, List<JobEffect> out) {
    ledger.offer(e.batches(), e.positions());
    if (phase instanceof Idle) {
      startStepIfPossible(out);
    }
  }

  private void onTick(List<JobEffect> out) {
    long now = clock.getAsLong();
    if (phase instanceof Stepping s && now >= s.deadlineMillis()) {
      for (String w : s.ranks()) {
        if (!s.done().contains(w)) {
          live.remove(w); // presumed dead; if alive it comes back as a new member
        }
      }
      abortStep(s, "step " + s.step() + " timed out", out);
      formGroup(out);
    } else if (phase instanceof Forming f && now >= f.deadlineMillis()) {
      for (String w : f.ranks()) {
        if (!f.ready().contains(w)) {
          live.remove(w);
        }
      }
      formGroup(out);
    }
  }

  /** Decides a step once every rank has either finished or died. */
  private void settleStep(List<JobEffect> out) {
    Stepping s = (Stepping) phase;
    if (s.done().size() + s.lost().size() < s.ranks().size()) {
      return;
    }
    if (s.done().isEmpty()) {
      abortStep(s, "every rank of generation " + s.generation() + " was lost", out);
      formGroup(out);
      return;
    }
    List<BatchId> batches = new ArrayList<>();
    for (String w : s.ranks()) {
      batches.addAll(s.assignment().get(w));
    }
    ledger.commit(s.step(), batches);
    committedStep = s.step();
    out.add(new JobEffect.Commit(s.step(), batches));
    List<String> departed = new ArrayList<>();
    for (String w : s.ranks()) {
      if (leaving.remove(w)) {
        live.remove(w);
        departed.add(w);
        abandonSavesOf(w, out);
        out.add(new JobEffect.Release(w));
      }
    }
    boolean last = policy.maxSteps() > 0 && committedStep >= policy.maxSteps();
    if (policy.checkpointDue(committedStep) || (last && policy.checkpointEvery() > 0)) {
      List<String> savers = new ArrayList<>(s.ranks());
      savers.removeAll(s.lost());
      savers.removeAll(departed); // released: a leaver writes nothing more (sharded: that checkpoint stays torn)
      save(s.generation(), committedStep, savers, out);
    }
    if (last) {
      phase = saves.containsKey(committedStep) ? new JobPhase.Finishing(committedStep) : new Finished();
      return;
    }
    if (!s.lost().isEmpty() || !departed.isEmpty() || !eligible().equals(s.ranks())) {
      formGroup(out);
    } else {
      phase = new Idle(s.generation(), s.ranks());
      startStepIfPossible(out);
    }
  }

  private void abortStep(Stepping s, String reason, List<JobEffect> out) {
    List<BatchId> batches = new ArrayList<>();
    for (String w : s.ranks()) {
      batches.addAll(s.assignment().get(w));
    }
    ledger.giveBack(batches);
    out.add(new JobEffect.AbortStep(s.generation(), s.step(), reason));
  }

  private void formGroup(List<JobEffect> out) {
    List<String> ranks = eligible();
    if (ranks.size() < policy.minWorkers()) {
      phase = new Waiting();
      out.add(new JobEffect.Waiting(ranks.size(), policy.minWorkers()));
      return;
    }
    generation++;
    phase = new Forming(generation, ranks, Set.of(), clock.getAsLong() + policy.formTimeout().toMillis());
    out.add(new JobEffect.FormGroup(generation, ranks, committedStep, restoreStep));
  }

  private void startStepIfPossible(List<JobEffect> out) {
    Idle idle = (Idle) phase;
    int need = idle.ranks().size() * policy.batchesPerRank();
    int take = Math.min(need, ledger.available());
    // A full step needs a batch per rank and micro-step; only the epoch's remainder runs short (ranks
    // without a batch contribute a zero gradient; losses are normalised by global token counts).
    if (take == 0 || (take < need && !dataEnded)) {
      return;
    }
    List<BatchId> batches = ledger.take(take);
    Map<String, List<BatchId>> assignment = new LinkedHashMap<>();
    for (int r = 0; r < idle.ranks().size(); r++) {
      int from = Math.min(take, r * policy.batchesPerRank());
      int to = Math.min(take, from + policy.batchesPerRank());
      assignment.put(idle.ranks().get(r), List.copyOf(batches.subList(from, to)));
    }
    long step = committedStep + 1;
    phase = new Stepping(idle.generation(), idle.ranks(), step, assignment, Set.of(), Set.of(),
        clock.getAsLong() + policy.stepTimeout().toMillis());
    out.add(new JobEffect.RunStep(idle.generation(), step, assignment));
  }

  /** Live workers that may hold a rank, in joining order, at most max_workers. */
  private List<String> eligible() {
    List<String> out = new ArrayList<>();
    for (String w : live) {
      if (!leaving.contains(w) && out.size() < policy.maxWorkers()) {
        out.add(w);
      }
    }
    return out;
  }

  private List<String> currentRanks() {
    if (phase instanceof Forming f) {
      return f.ranks();
    } else if (phase instanceof Idle i) {
      return i.ranks();
    } else if (phase instanceof Stepping s) {
      return s.ranks();
    }
    return List.of();
  }

  public long generation() {
    return generation;
  }

  public long committedStep() {
    return committedStep;
  }

  public DataLedger ledger() {
    return ledger;
  }

  /** The job's state for a successor coordinator; a step in flight is abandoned and its batches requeued. */
  public JobSnapshot snapshot() {
    List<BatchId> queued = new ArrayList<>();
    if (phase instanceof Stepping s) {
      for (String w : s.ranks()) {
        queued.addAll(s.assignment().get(w));
      }
    }
    queued.addAll(ledger.queued());
    return new JobSnapshot(generation, committedStep, ledger.committed(), queued, ledger.resumePositions());
  }

  /** The newest complete checkpoint known, if any. */
  public java.util.Optional<CheckpointRef> latestCheckpoint() {
    return java.util.Optional.ofNullable(latest);
  }

  /** The step the next group loads from its checkpoint, or -1 when the ranks hold the state. */
  public long restoreStep() {
    return restoreStep;
  }

  /** Steps of the checkpoints being written. */
  public Set<Long> savesInFlight() {
    return Set.copyOf(saves.keySet());
  }

  public boolean finished() {
    return phase instanceof Finished;
  }

  /** The phase's name, for dashboards and logs. */
  public String phaseName() {
    return phase.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
  }
}
