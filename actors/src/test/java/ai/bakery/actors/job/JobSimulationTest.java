package ai.bakery.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The elastic protocol in a seeded discrete-event simulation (after Kafka raft's RaftEventSimulationTest):
 * workers are killed, join and leave gracefully, batches arrive late and twice, the coordinator fails over;
 * every seed must end with each batch of the epoch trained exactly once and every worker holding the same
 * model. Checkpoints are saved every other step; in some seeds every worker restarts at once, so the new ones hold
 * nothing and the job must go back to its newest complete checkpoint (rank parts that die with their worker leave
 * torn ones, never used) and serve the later batches again. A failing seed reproduces from its number.
 */
class JobSimulationTest {
  static final int BATCHES = 120;

  /** Seeds in which every worker restarted with state to lose: enough of them to mean something. */
  static final java.util.concurrent.atomic.AtomicInteger REWOUND = new java.util.concurrent.atomic.AtomicInteger();

  @org.junit.jupiter.api.AfterAll
  static void enoughSeedsRewound() {
    assertTrue(REWOUND.get() >= 10, "only " + REWOUND.get() + " seeds restarted every worker mid-job");
  }

  static List<Long> seeds() {
    List<Long> s = new ArrayList<>();
    for (long i = 1; i <= 60; i++) {
      s.add(i);
    }
    return s;
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void everyBatchTrainedExactlyOnceThroughChaos(long seed) {
    Sim sim = new Sim(seed);
    sim.run();
    DataLedger ledger = sim.logic.ledger();
    Set<BatchId> trained = new TreeSet<>();
    long expectStep = 1;
    for (Map.Entry<Long, List<BatchId>> e : new java.util.TreeMap<>(ledger.committed()).entrySet()) {
      assertEquals(expectStep++, e.getKey(), "committed steps must be contiguous (seed " + seed + ")");
      for (BatchId b : e.getValue()) {
        assertTrue(trained.add(b), "batch " + b + " trained twice (seed " + seed + ")");
      }
    }
    assertEquals(BATCHES, trained.size(), "every batch trained (seed " + seed + "), phase " + sim.logic.phaseName());
    // Every live worker applied exactly the committed batches, in order.
    List<BatchId> model = new ArrayList<>();
    new java.util.TreeMap<>(ledger.committed()).values().forEach(model::addAll);
    for (Worker w : sim.workers.values()) {
      if (w.alive && w.inGroup) {
        assertEquals(model, w.applied, "worker " + w.id + " diverged (seed " + seed + ")");
      }
    }
    assertTrue(sim.generations.size() >= 2, "membership changed at least once");
    // a checkpoint is committed only once every rank's part is durable, and its ranks' model is what its ledger says
    for (Map.Entry<Long, List<BatchId>> cp : sim.completeModels.entrySet()) {
      List<BatchId> ledgerSays = new ArrayList<>();
      new java.util.TreeMap<>(sim.complete.get(cp.getKey()).committed()).values().forEach(ledgerSays::addAll);
      assertEquals(ledgerSays, cp.getValue(), "checkpoint " + cp.getKey() + " (seed " + seed + ")");
    }
    for (long step : sim.commitsBeforeAllParts) {
      throw new AssertionError("checkpoint " + step + " committed before every part was durable (seed " + seed + ")");
    }
    assertTrue(!sim.complete.isEmpty(), "checkpoints were completed (seed " + seed + ")");
    if (sim.restartedAll) {
      assertTrue(sim.rewinds > 0, "a restart of every worker goes back to a checkpoint (seed " + seed + ")");
      REWOUND.incrementAndGet();
    }
    for (int i = 1; i < sim.generations.size(); i++) {
      assertTrue(sim.generations.get(i) > sim.generations.get(i - 1), "generations increase");
    }
  }

  /** One simulated worker process. {@code applied} is its model: the batches whose updates it applied. */
  static final class Worker {
    final String id;
    boolean alive = true;
    boolean inGroup;
    long generation = -1;
    /** The committed job step its model holds (0: the start). */
    long step;
    List<BatchId> applied = new ArrayList<>();
    List<BatchId> pendingGradient; // reduced gradient waiting for the commit

    Worker(String id) {
      this.id = id;
    }
  }

  static final class Sim {
    final Random rnd;
    long now;
    final PriorityQueue<Object[]> agenda = new PriorityQueue<>((a, b) -> Long.compare((long) a[0], (long) b[0]));
    long seqNo;
    final Map<String, Worker> workers = new HashMap<>();
    final List<Long> generations = new ArrayList<>();
    final JobPolicy policy = new JobPolicy(2, 3, 1, Duration.ofMillis(500), Duration.ofMillis(300), 0)
        .withCheckpoints(2, Duration.ofMillis(400));
    /** Complete checkpoints on "disk": the job state written with COMPLETE, and the model the ranks wrote. */
    final java.util.TreeMap<Long, JobSnapshot> complete = new java.util.TreeMap<>();
    final java.util.TreeMap<Long, List<BatchId>> completeModels = new java.util.TreeMap<>();
    /** Parts written per save attempt, and the model each rank wrote. */
    final Map<String, Set<String>> partsWritten = new HashMap<>();
    final Map<String, List<BatchId>> partModels = new HashMap<>();
    final List<Long> commitsBeforeAllParts = new ArrayList<>();
    boolean restartedAll;
    int rewinds;
    JobLogic logic;
    int nextWorker;
    int produced;
    boolean failedOver;
    long dataEndAt = Long.MAX_VALUE;
    int shardRestarts;

    Sim(long seed) {
      rnd = new Random(seed);
      logic = new JobLogic(policy, () -> now);
    }

    void at(long t, Runnable r) {
      agenda.add(new Object[] {t, seqNo++, r});
    }

    void feed(JobEvent e) {
      for (JobEffect fx : logic.handle(e)) {
        perform(fx);
      }
    }

    void run() {
      for (int i = 0; i < 3; i++) {
        startWorker(0);
      }
      // Batches arrive in chunks, some delivered twice.
      long t = 0;
      for (; produced < BATCHES; t += 40) {
        int n = Math.min(BATCHES - produced, 1 + rnd.nextInt(6));
        List<BatchId> chunk = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          chunk.add(new BatchId("shard-" + (produced % 2), produced++));
        }
        List<BatchId> copy = List.copyOf(chunk);
        at(t, () -> feed(new JobEvent.BatchesReady(copy)));
        if (rnd.nextInt(5) == 0) {
          at(t + 200, () -> feed(new JobEvent.BatchesReady(copy)));
        }
      }
      dataEndAt = t + 250;
      at(dataEndAt, () -> feed(new JobEvent.DataEnd()));
      // Chaos: three kills, two joins, one graceful leave, maybe a coordinator fail-over.
      for (int k = 0; k < 3; k++) {
        at(100 + rnd.nextInt(3000), this::killRandom);
      }
      for (int k = 0; k < 2; k++) {
        at(200 + rnd.nextInt(3000), () -> startWorker(now));
      }
      at(300 + rnd.nextInt(3000), this::leaveRandom);
      if (rnd.nextBoolean()) {
        at(500 + rnd.nextInt(2500), this::failOver);
      }
      if (rnd.nextBoolean()) {
        at(200 + rnd.nextInt(1500), () -> feed(new JobEvent.ShardLost("shard-1")));
      }
      if (rnd.nextInt(3) == 0) {
        at(1000 + rnd.nextInt(2000), this::restartAll);
      }
      // A replacement keeps the world at the minimum eventually.
      at(4000, () -> startWorker(now));
      at(4100, () -> startWorker(now));
      for (long tick = 0; tick < 60_000; tick += 100) {
        at(tick, () -> feed(new JobEvent.Tick()));
      }
      while (!agenda.isEmpty() && trainedCount() < BATCHES) {
        Object[] next = agenda.poll();
        now = (long) next[0];
        ((Runnable) next[2]).run();
      }
    }

    int trainedCount() {
      return logic.ledger().committed().values().stream().mapToInt(List::size).sum();
    }

    void startWorker(long t) {
      Worker w = new Worker("w" + nextWorker++);
      workers.put(w.id, w);
      at(t + 1 + rnd.nextInt(20), () -> {
        if (w.alive) {
          feed(new JobEvent.WorkerUp(w.id));
        }
      });
    }

    void killRandom() {
      List<Worker> alive = workers.values().stream().filter(x -> x.alive).sorted((a, b) -> a.id.compareTo(b.id)).toList();
      if (alive.isEmpty()) {
        return;
      }
      Worker w = alive.get(rnd.nextInt(alive.size()));
      w.alive = false;
      // The failure detector notices after a while.
      at(now + 20 + rnd.nextInt(80), () -> feed(new JobEvent.WorkerDown(w.id, false)));
    }

    /** Every worker dies at once and three fresh ones start: no live worker holds the state. */
    void restartAll() {
      restartedAll = logic.committedStep() > 0; // state to lose
      for (Worker w : workers.values()) {
        if (w.alive) {
          w.alive = false;
          at(now + 20 + rnd.nextInt(80), () -> feed(new JobEvent.WorkerDown(w.id, false)));
        }
      }
      for (int i = 0; i < 3; i++) {
        startWorker(now + 150);
      }
    }

    void leaveRandom() {
      List<Worker> alive = workers.values().stream().filter(x -> x.alive).sorted((a, b) -> a.id.compareTo(b.id)).toList();
      if (alive.isEmpty()) {
        return;
      }
      feed(new JobEvent.WorkerDown(alive.get(rnd.nextInt(alive.size())).id, true));
    }

    void failOver() {
      JobSnapshot snap = logic.snapshot();
      // the successor reads the job's snapshot and finds the newest complete checkpoint on disk
      java.util.Optional<CheckpointRef> latest = complete.isEmpty() ? java.util.Optional.empty()
          : java.util.Optional.of(new CheckpointRef(complete.lastKey(), complete.lastEntry().getValue()));
      logic = JobLogic.start(policy, () -> now, java.util.Optional.of(snap), latest, false);
      failedOver = true;
      if (now >= dataEndAt) {
        feed(new JobEvent.DataEnd());
      }
      // The new singleton learns the membership from the cluster.
      workers.values().stream().filter(x -> x.alive).map(x -> x.id).sorted()
          .forEach(id -> at(now + 5, () -> feed(new JobEvent.WorkerUp(id))));
    }

    void perform(JobEffect fx) {
      if (fx instanceof JobEffect.FormGroup f) {
        generations.add(f.generation());
        for (Worker w : workers.values()) {
          w.inGroup = false;
        }
        at(now + 5 + rnd.nextInt(30), () -> {
          // the ranks meet, then take the state: from the checkpoint, or from a rank holding the committed step
          List<Worker> members = f.ranks().stream().map(workers::get).filter(w -> w.alive).toList();
          List<BatchId> state;
          if (f.restores()) {
            state = completeModels.get(f.restoreStep());
            assertTrue(state != null, "group " + f.generation() + " restores checkpoint " + f.restoreStep()
                + ", which is not complete");
          } else {
            state = members.stream().filter(w -> w.step == f.committedStep()).findFirst().map(w -> w.applied)
                .orElse(null);
          }
          for (Worker w : members) {
            w.generation = f.generation();
            w.pendingGradient = null;
            if (state == null) {
              feed(new JobEvent.StateLost(w.id, f.generation(), "no rank holds step " + f.committedStep()));
              continue;
            }
            w.applied = new ArrayList<>(state);
            w.step = f.committedStep();
            w.inGroup = true;
            feed(new JobEvent.GroupReady(w.id, f.generation()));
          }
        });
      } else if (fx instanceof JobEffect.RunStep r) {
        // The all-reduce happens once every rank computed; it succeeds only if all ranks are alive then.
        long reduceAt = now + 30 + rnd.nextInt(60);
        at(reduceAt, () -> {
          boolean allAlive = r.assignment().keySet().stream().allMatch(id -> workers.get(id).alive);
          List<BatchId> all = new ArrayList<>();
          r.assignment().values().forEach(all::addAll);
          for (String id : r.assignment().keySet()) {
            Worker w = workers.get(id);
            if (!w.alive || w.generation != r.generation()) {
              continue;
            }
            if (allAlive) {
              w.pendingGradient = all;
              at(now + 1 + rnd.nextInt(5), () -> {
                if (w.alive) {
                  feed(new JobEvent.StepDone(w.id, r.generation(), r.step()));
                }
              });
            } else {
              at(now + 50, () -> {
                if (w.alive) {
                  feed(new JobEvent.StepFailed(w.id, r.generation(), r.step(), "peer lost in all-reduce"));
                }
              });
            }
          }
        });
      } else if (fx instanceof JobEffect.Commit c) {
        for (Worker w : workers.values()) {
          if (w.alive && w.pendingGradient != null && w.pendingGradient.equals(c.batches())) {
            w.applied.addAll(w.pendingGradient);
            w.pendingGradient = null;
            w.step = c.step();
          }
        }
      } else if (fx instanceof JobEffect.SaveCheckpoint save) {
        // each rank writes its part of the model it holds now, in the background; one dying loses its part
        for (int i = 0; i < save.ranks().size(); i++) {
          Worker w = workers.get(save.ranks().get(i));
          int part = i;
          List<BatchId> held = new ArrayList<>(w.applied);
          long heldStep = w.step;
          at(now + 10 + rnd.nextInt(150), () -> {
            if (w.alive) {
              assertEquals(save.step(), heldStep, "rank " + w.id + " saves the committed step");
              partsWritten.computeIfAbsent(save.saveId(), k -> new HashSet<>()).add(w.id);
              partModels.put(save.saveId(), held);
              feed(new JobEvent.CheckpointPartSaved(w.id, save.step(), save.saveId(), part, save.ranks().size(),
                  part == 0 ? Map.of("train_state.json", "{}") : Map.of()));
            }
          });
        }
      } else if (fx instanceof JobEffect.CommitCheckpoint cc) {
        Set<String> written = partsWritten.getOrDefault(cc.saveId(), Set.of());
        if (written.size() != cc.parts()) {
          commitsBeforeAllParts.add(cc.step());
        }
        JobLogic committer = logic;
        at(now + 5 + rnd.nextInt(20), () -> {
          complete.put(cc.step(), cc.snapshot());
          completeModels.put(cc.step(), partModels.get(cc.saveId()));
          if (logic == committer) { // a coordinator that failed over in between never hears of it
            feed(new JobEvent.CheckpointCommitted(cc.step(), cc.saveId()));
          }
        });
      } else if (fx instanceof JobEffect.Rewind) {
        rewinds++;
      } else if (fx instanceof JobEffect.AbortStep) {
        for (Worker w : workers.values()) {
          w.pendingGradient = null;
        }
      } else if (fx instanceof JobEffect.RestartShard r) {
        // The replacement packs again from the recorded position: the same batches, the same ids.
        List<BatchId> again = new ArrayList<>();
        for (long seq = r.fromSeq(); seq < produced; seq++) {
          if (("shard-" + (seq % 2)).equals(r.shard()) && !r.alreadyTrained().contains(seq)) {
            again.add(new BatchId(r.shard(), seq));
          }
        }
        at(now + 50, () -> feed(new JobEvent.BatchesReady(again)));
        at(Math.max(dataEndAt, now + 60), () -> feed(new JobEvent.DataEnd())); // the replacement ends too
        shardRestarts++;
      } else if (fx instanceof JobEffect.Release rel) {
        Worker w = workers.get(rel.worker());
        w.alive = false;
        w.inGroup = false;
      }
    }
  }
}
