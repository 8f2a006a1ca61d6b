package ai.bakery.actors.launch;

import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.data.example.ExampleDataset;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The cluster half of {@code bakery bench recovery}: a {@link LocalCluster} (coordinator, one data shard, N
 * workers, each its own JVM on loopback) trains the tiny preset on the example dataset; once a few steps are
 * committed one worker is killed with SIGKILL and the survivors' way back is timed from the coordinator's output:
 * the kill to the coordinator counting the worker lost (its node unreachable, or removed from membership when
 * {@code bakery.cluster.lost-on-unreachable} is off), to the first generation without it, and to the first step
 * that generation commits. Steps lost are the committed steps the new group does not resume from plus the step
 * in flight when it was aborted.
 *
 * <p>Times come from when this JVM read each coordinator line (so they include the output pipe's latency, a few
 * milliseconds); the kill time is taken right before {@link Process#destroyForcibly()}.
 */
public final class RecoveryBench {
  /**
   * @param workers workers at the start (one is killed; the rest must stay at or above the minimum of N-1)
   * @param warmSteps committed steps before the kill
   * @param heartbeatPause the failure detector's acceptable heartbeat pause in seconds; 0 keeps
   *     {@code bakery cluster up}'s setting (the loopback profile, {@code bakery-loopback.conf})
   * @param timeoutSeconds give up when the new group has not committed this long after the kill
   * @param startSeconds give up when the warm steps are not committed this long after the start
   * @param heap each node's -Xmx
   */
  public record Config(int workers, int warmSteps, int heartbeatPause, int timeoutSeconds, int startSeconds,
      String heap) {
    public Config {
      if (workers < 2) {
        throw new IllegalArgumentException("workers must be >= 2 (one is killed, one must survive), got " + workers);
      }
      if (warmSteps < 1) {
        throw new IllegalArgumentException("warm steps must be >= 1, got " + warmSteps);
      }
      if (heartbeatPause < 0) {
        throw new IllegalArgumentException("heartbeat pause must be >= 0 s, got " + heartbeatPause);
      }
      if (timeoutSeconds < 1 || startSeconds < 1) {
        throw new IllegalArgumentException("timeouts must be >= 1 s, got " + timeoutSeconds + " and " + startSeconds);
      }
    }

    public static Config defaults() {
      return new Config(3, 3, 0, 300, 600, "1g");
    }
  }

  /** What one kill cost; times in seconds after the kill, NaN when the event was not seen. */
  public record Result(int workers, long committedAtKill, long resumedFrom, long generationAtKill,
      long newGeneration, double detectedSeconds, double regroupedSeconds, double firstCommitSeconds,
      int abortedSteps, long stepsLost, double heartbeatPause, double stableAfter) {
    public Map<String, Object> row() {
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("measure", "kill -9 1 of " + workers + " workers");
      r.put("killed_after_step", committedAtKill);
      r.put("kill_to_worker_lost_s", round(detectedSeconds));
      r.put("kill_to_new_group_s", round(regroupedSeconds));
      r.put("kill_to_first_commit_s", round(firstCommitSeconds));
      r.put("resumed_from_step", resumedFrom);
      r.put("steps_lost", stepsLost);
      r.put("heartbeat_pause_s", heartbeatPause);
      r.put("sbr_stable_after_s", stableAfter);
      r.put("target_10s", firstCommitSeconds <= 10 ? "met" : "missed");
      return r;
    }

    static Object round(double v) {
      return Double.isNaN(v) ? "not seen" : Math.round(v * 100) / 100.0;
    }
  }

  static final String HEARTBEAT_PAUSE = "pekko.cluster.failure-detector.acceptable-heartbeat-pause";
  static final String STABLE_AFTER = "pekko.cluster.split-brain-resolver.stable-after";

  /** A duration of the loopback profile the nodes run with, in seconds. */
  static double profileSeconds(String key) {
    return com.typesafe.config.ConfigFactory.parseString(LocalCluster.loopbackSettings()).getDuration(key)
        .toMillis() / 1000.0;
  }

  static final Pattern GENERATION = Pattern.compile("generation (\\d+): ranks \\[([^\\]]*)\\] from step (\\d+)");
  static final Pattern COMMITTED = Pattern.compile("\\(step=(\\d+)\\) Train Loss");
  static final Pattern ABORTED = Pattern.compile("step (\\d+) aborted");

  private RecoveryBench() {}

  /**
   * Runs one kill in a fresh cluster under {@code dir}; the nodes' output goes to {@code log}.
   *
   * @param modelDir the tiny preset's folder ({@code configs/model/tiny}), given as {@code model.model_path}: the
   *     nodes look a preset up from their working folder, which need not be the installation's
   */
  public static Result run(Path dir, Path modelDir, Config config, PrintStream log) throws IOException,
      InterruptedException {
    Path jobFile = writeJob(dir, modelDir);
    Path jobDir = dir.resolve("job");
    FileJobStore store = new FileJobStore(jobDir.resolve("job.json"));
    // C1 only and the serial collector: start-up of N+2 JVMs dominates, the tiny preset's steps are libtorch time
    List<String> jvm = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");
    LocalCluster.Options options = new LocalCluster.Options(config.workers(), 1, config.workers() - 1, jobDir,
        config.heap(), null, jvm, jobFile, List.of());
    String victim = "worker-1";
    LocalCluster cluster = new LocalCluster(options, log);
    // Ctrl-C or SIGTERM of the bench must not leave node JVMs behind
    Thread teardown = new Thread(cluster::close, "bakery-recovery-bench-teardown");
    Runtime.getRuntime().addShutdownHook(teardown);
    try {
      if (config.heartbeatPause() > 0) {
        cluster.withNodeSettings("pekko.cluster.failure-detector.acceptable-heartbeat-pause = "
            + config.heartbeatPause() + " s");
      }
      cluster.start();
      warmUp(cluster, store, config, "coordinator");
      // what the coordinator had said before the kill: its latest generation and committed step
      List<LocalCluster.TimedLine> before = cluster.timedLines("coordinator");
      long generationAtKill = store.load().map(JobSnapshot::generation).orElse(0L);
      long committedAtKill = committed(store);
      for (LocalCluster.TimedLine l : before) {
        Matcher g = GENERATION.matcher(l.text());
        if (g.find()) {
          generationAtKill = Math.max(generationAtKill, Long.parseLong(g.group(1)));
        }
        Matcher c = COMMITTED.matcher(l.text());
        if (c.find()) {
          committedAtKill = Math.max(committedAtKill, Long.parseLong(c.group(1)) + 1);
        }
      }
      long killedAt = System.nanoTime();
      cluster.kill(victim);
      long deadline = killedAt + config.timeoutSeconds() * 1_000_000_000L;

      Timeline t = Timeline.NONE;
      while (Double.isNaN(t.firstCommit())) {
        List<LocalCluster.TimedLine> lines = cluster.timedLines("coordinator");
        t = Timeline.read(lines.subList(before.size(), lines.size()), killedAt, victim, generationAtKill);
        if (Double.isNaN(t.firstCommit()) && !Double.isNaN(t.regrouped())) {
          // a commit whose progress line was withheld (no losses reported) still shows in the job store
          Optional<JobSnapshot> s = store.load();
          if (s.isPresent() && s.get().generation() >= t.newGeneration() && s.get().committedStep() > t.resumedFrom()) {
            t = t.committedAt((System.nanoTime() - killedAt) / 1e9);
          }
        }
        if (Double.isNaN(t.firstCommit())) {
          failIfDone(cluster, "after the kill, before the new group committed a step");
          if (System.nanoTime() > deadline) {
            break;
          }
          Thread.sleep(20);
        }
      }
      return new Result(config.workers(), committedAtKill, t.resumedFrom(), generationAtKill, t.newGeneration(),
          t.removed(), t.regrouped(), t.firstCommit(), t.abortedSteps(), t.stepsLost(committedAtKill),
          config.heartbeatPause() > 0 ? config.heartbeatPause() : profileSeconds(HEARTBEAT_PAUSE),
          profileSeconds(STABLE_AFTER));
    } finally {
      cluster.close();
      try {
        Runtime.getRuntime().removeShutdownHook(teardown);
      } catch (IllegalStateException e) {
        // shutting down already: the hook closes the cluster
      }
    }
  }

  /**
   * What the coordinator's lines after a kill show, in seconds after it (NaN: not yet seen): the victim counted lost
   * from membership, the first generation without it (and the step it resumes from), and that generation's first
   * committed step; steps aborted meanwhile.
   */
  record Timeline(double removed, double regrouped, double firstCommit, long newGeneration, long resumedFrom,
      int abortedSteps) {
    static final Timeline NONE = new Timeline(Double.NaN, Double.NaN, Double.NaN, -1, -1, 0);

    /** @param lines the coordinator's lines since the kill, in order */
    static Timeline read(List<LocalCluster.TimedLine> lines, long killedAtNanos, String victim,
        long generationAtKill) {
      double removed = Double.NaN;
      double regrouped = Double.NaN;
      double firstCommit = Double.NaN;
      long newGeneration = -1;
      long resumedFrom = -1;
      java.util.Set<Long> aborted = new java.util.TreeSet<>();
      for (LocalCluster.TimedLine l : lines) {
        double at = Math.max(0, (l.nanos() - killedAtNanos) / 1e9);
        if (Double.isNaN(removed) && l.text().contains("worker " + victim + " is gone")) {
          removed = at;
        }
        Matcher a = ABORTED.matcher(l.text());
        if (a.find() && Double.isNaN(firstCommit)) {
          aborted.add(Long.parseLong(a.group(1)));
        }
        Matcher g = GENERATION.matcher(l.text());
        if (Double.isNaN(regrouped) && g.find() && Long.parseLong(g.group(1)) > generationAtKill
            && !List.of(g.group(2).split(",\\s*")).contains(victim)) {
          regrouped = at;
          newGeneration = Long.parseLong(g.group(1));
          resumedFrom = Long.parseLong(g.group(3));
        }
        Matcher c = COMMITTED.matcher(l.text());
        // the trainer's step s is the job's committed step s + 1
        if (!Double.isNaN(regrouped) && Double.isNaN(firstCommit) && c.find()
            && Long.parseLong(c.group(1)) + 1 > resumedFrom) {
          firstCommit = at;
        }
      }
      return new Timeline(removed, regrouped, firstCommit, newGeneration, resumedFrom, aborted.size());
    }

    Timeline committedAt(double seconds) {
      return new Timeline(removed, regrouped, seconds, newGeneration, resumedFrom, abortedSteps);
    }

    /**
     * Committed steps the new group does not resume from, plus the step in flight when any was aborted; -1 when
     * no new group formed.
     */
    long stepsLost(long committedAtKill) {
      return resumedFrom < 0 ? -1 : Math.max(0, committedAtKill - resumedFrom) + (abortedSteps > 0 ? 1 : 0);
    }
  }

  /** The example dataset and the job's YAML under {@code dir}; returns the YAML's path. */
  private static Path writeJob(Path dir, Path modelDir) throws IOException {
    if (!Files.isRegularFile(modelDir.resolve("config.json"))) {
      throw new IllegalArgumentException(modelDir + ": no config.json (the tiny preset's folder is configs/model/tiny)");
    }
    Path example = dir.resolve("example");
    if (!Files.isDirectory(example)) {
      ExampleDataset.write(example, ExampleDataset.Options.DEFAULTS);
    }
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, jobYaml(dir, modelDir.toAbsolutePath(), example.resolve("example.yaml")));
    return jobFile;
  }

  /** Waits for the warm steps to be committed. */
  private static void warmUp(LocalCluster cluster, FileJobStore store, Config config, String coordinator)
      throws InterruptedException {
    long startDeadline = System.nanoTime() + config.startSeconds() * 1_000_000_000L;
    while (committed(store) < config.warmSteps()) {
      failIfDone(cluster, coordinator, "before " + config.warmSteps() + " steps were committed");
      for (int i = 0; i < config.workers(); i++) {
        Process w = cluster.node("worker-" + i);
        if (!w.isAlive()) {
          // the kill is measured against a full group: a worker lost before it makes the numbers meaningless
          throw new IllegalStateException("worker-" + i + " exited (status " + w.exitValue() + ") before "
              + config.warmSteps() + " steps were committed; its output above says why");
        }
      }
      if (System.nanoTime() > startDeadline) {
        throw new IllegalStateException("the cluster did not commit " + config.warmSteps() + " steps within "
            + config.startSeconds() + " s of starting");
      }
      Thread.sleep(100);
    }
  }

  /**
   * What a coordinator kill cost, in seconds after it (NaN when not seen): the singleton's start on the stand-by
   * ({@code resuming job}), its first generation, and that generation's first committed step.
   */
  public record FailoverResult(int workers, long committedAtKill, long resumedFrom, double takeoverSeconds,
      double regroupedSeconds, double firstCommitSeconds, double heartbeatPause, double stableAfter,
      double removalMargin) {
    public Map<String, Object> row() {
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("measure", "kill -9 the coordinator (1 stand-by, " + workers + " workers)");
      r.put("killed_after_step", committedAtKill);
      r.put("kill_to_singleton_moved_s", Result.round(takeoverSeconds));
      r.put("kill_to_new_group_s", Result.round(regroupedSeconds));
      r.put("kill_to_first_commit_s", Result.round(firstCommitSeconds));
      r.put("resumed_from_step", resumedFrom);
      r.put("heartbeat_pause_s", heartbeatPause);
      r.put("sbr_stable_after_s", stableAfter);
      r.put("down_removal_margin_s", removalMargin);
      return r;
    }
  }

  static final Pattern RESUMING = Pattern.compile("resuming job at step (\\d+)");

  /**
   * Runs one coordinator kill in a fresh cluster under {@code dir} with a stand-by coordinator: once the warm
   * steps are committed the coordinator's JVM is killed with SIGKILL, and the stand-by's output times the way back.
   */
  public static FailoverResult runCoordinatorKill(Path dir, Path modelDir, Config config, PrintStream log)
      throws IOException, InterruptedException {
    Path jobFile = writeJob(dir, modelDir);
    Path jobDir = dir.resolve("job");
    FileJobStore store = new FileJobStore(jobDir.resolve("job.json"));
    List<String> jvm = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");
    LocalCluster.Options options = new LocalCluster.Options(config.workers(), 1, 2, config.workers(), jobDir,
        config.heap(), null, jvm, jobFile, List.of());
    String standby = LocalCluster.coordinatorName(1);
    LocalCluster cluster = new LocalCluster(options, log);
    Thread teardown = new Thread(cluster::close, "bakery-recovery-bench-teardown");
    Runtime.getRuntime().addShutdownHook(teardown);
    try {
      if (config.heartbeatPause() > 0) {
        cluster.withNodeSettings(HEARTBEAT_PAUSE + " = " + config.heartbeatPause() + " s");
      }
      cluster.start();
      warmUp(cluster, store, config, standby);
      long committedAtKill = committed(store);
      int before = cluster.lines(standby).size();
      long killedAt = System.nanoTime();
      cluster.kill("coordinator");
      long deadline = killedAt + config.timeoutSeconds() * 1_000_000_000L;
      double takeover = Double.NaN;
      double regrouped = Double.NaN;
      double firstCommit = Double.NaN;
      long resumedFrom = -1;
      while (Double.isNaN(firstCommit) && System.nanoTime() < deadline) {
        failIfDone(cluster, standby, "after the coordinator's kill, before its successor committed a step");
        List<LocalCluster.TimedLine> lines = cluster.timedLines(standby);
        for (LocalCluster.TimedLine l : lines.subList(before, lines.size())) {
          double at = Math.max(0, (l.nanos() - killedAt) / 1e9);
          Matcher r = RESUMING.matcher(l.text());
          if (Double.isNaN(takeover) && r.find()) {
            takeover = at;
          }
          Matcher g = GENERATION.matcher(l.text());
          if (Double.isNaN(regrouped) && g.find()) {
            regrouped = at;
            resumedFrom = Long.parseLong(g.group(3));
          }
          Matcher c = COMMITTED.matcher(l.text());
          if (!Double.isNaN(regrouped) && Double.isNaN(firstCommit) && c.find()
              && Long.parseLong(c.group(1)) + 1 > resumedFrom) {
            firstCommit = at;
          }
        }
        Thread.sleep(20);
      }
      return new FailoverResult(config.workers(), committedAtKill, resumedFrom, takeover, regrouped, firstCommit,
          config.heartbeatPause() > 0 ? config.heartbeatPause() : profileSeconds(HEARTBEAT_PAUSE),
          profileSeconds(STABLE_AFTER), profileSeconds("pekko.cluster.down-removal-margin"));
    } finally {
      cluster.close();
      try {
        Runtime.getRuntime().removeShutdownHook(teardown);
      } catch (IllegalStateException e) {
        // shutting down already: the hook closes the cluster
      }
    }
  }

  /** The coordinator kill in a temporary folder, deleted afterwards: the row {@code bench recovery} prints. */
  public static List<Map<String, Object>> coordinatorKillRows(Path modelDir, Config config, PrintStream log)
      throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("bakery-bench-coordinator-recovery");
    try {
      return List.of(runCoordinatorKill(dir, modelDir, config, log).row());
    } finally {
      deleteTree(dir);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** Runs in a temporary folder, deleted afterwards; the rows {@code bench recovery} prints. */
  public static List<Map<String, Object>> rows(Path modelDir, Config config, PrintStream log) throws IOException,
      InterruptedException {
    Path dir = Files.createTempDirectory("bakery-bench-cluster-recovery");
    try {
      return List.of(run(dir, modelDir, config, log).row());
    } finally {
      deleteTree(dir);
    }
  }

  private static long committed(FileJobStore store) {
    return store.load().map(JobSnapshot::committedStep).orElse(0L);
  }

  private static void failIfDone(LocalCluster cluster, String when) {
    failIfDone(cluster, "coordinator", when);
  }

  private static void failIfDone(LocalCluster cluster, String coordinator, String when) {
    if (!cluster.node(coordinator).isAlive()) {
      throw new IllegalStateException("the " + coordinator + " node exited (status "
          + cluster.node(coordinator).exitValue() + ") " + when);
    }
  }

  /** The tiny preset on the example dataset, small packs (a step of about a second), far more steps than needed. */
  static String jobYaml(Path dir, Path modelDir, Path datasetConfig) {
    return String.join("\n",
        "model:",
        "  model_path: " + modelDir,
        "data:",
        "  dataset_config_file: " + datasetConfig,
        "  packing:",
        "    expected_num_tokens: 256",
        "    max_num_tokens: 768",
        "    max_num_tokens_per_sample: 512",
        "    prefer_buffer_before: 128",
        "    max_buffer_size: 4",
        "training:",
        "  optimizer:",
        "    lr: 2.0e-3",
        "  schedule:",
        "    warmup_steps: 2",
        "    total_steps: 100000",
        "  checkpoint:",
        "    save_every: 100000",
        "  loop:",
        "    max_steps: 100000",
        "    log_every: 1",
        "output:",
        "  results_dir: " + dir.resolve("results"),
        "  checkpoint_dir: " + dir.resolve("checkpoints"),
        "runtime:",
        "  seed: 11",
        "  num_workers: 1",
        "  threads: 1",
        "parallel:",
        "  sharding_strategy: NO_SHARD",
        "");
  }
}
