package ai.bakery.runtime.checkpoint;

import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsCheckpoint;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.io.TensorSource;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.train.Ema;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Saves and finds checkpoints in the reference's layout, one folder per step ({@code checkpoint_dir/0000500/}):
 * {@code model.safetensors}, {@code ema.safetensors}, {@code optimizer.safetensors} + {@code optimizer.json},
 * {@code scheduler.json}, {@code train_state.json} (counters and RNG), {@code data_status.json} (one data position
 * per rank) and {@code manifest.json} (size and SHA-256 of every other file).
 *
 * <p>A save writes a hidden temporary folder, fsyncs every file and the folder, then renames it into place, so a
 * step folder either is complete or does not exist; a crash leaves only a {@code .tmp-} folder, which is never
 * read. Resume decisions follow the reference's flags: {@link #plan} picks the folder and mode, {@link #restore}
 * loads it.
 */
public final class CheckpointManager {
  private static final Logger LOG = LoggerFactory.getLogger(CheckpointManager.class);
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final ObjectMapper COMPACT = new ObjectMapper();

  public static final String MODEL = "model";
  public static final String EMA = "ema";
  public static final String OPTIMIZER = "optimizer";
  public static final String SCHEDULER_JSON = "scheduler.json";
  public static final String TRAIN_STATE_JSON = "train_state.json";
  public static final String DATA_STATUS_JSON = "data_status.json";
  public static final String OPTIMIZER_JSON = "optimizer.json";
  /** Fixed sin-cos tables: recomputed by the model, never loaded (the reference pops them too). */
  public static final Set<String> NOT_LOADED = Set.of("latent_pos_embed.pos_embed", "vit_pos_embed.pos_embed");

  private final CheckpointConfig config;

  public CheckpointManager(CheckpointConfig config) {
    this.config = config;
  }

  public CheckpointConfig config() {
    return config;
  }

  /** Everything a checkpoint holds, gathered by the trainer after optimizer step {@code trainState.step()}. */
  public record Snapshot(
      ParameterStore model,
      Map<String, NDArray> ema,
      AdamW.State optimizer,
      OptimizerSettings optimizerSettings,
      SchedulerState scheduler,
      TrainState trainState,
      List<String> dataStatus) {}

  /** The optimizer's hyper-parameters, stored beside its moments for the record. */
  public record OptimizerSettings(double lr, double beta1, double beta2, double eps, double weightDecay) {}

  /** Step folder name of {@code step}: seven digits, as the reference. */
  public static String stepName(long step) {
    return String.format("%07d", step);
  }

  // ------------------------------------------------------------------------------------------------ save

  /** Writes a complete checkpoint for {@code s.trainState().step()} and applies {@code keep_last}. */
  public Path save(Snapshot s) {
    long step = s.trainState().step();
    Path root = config.checkpointDir();
    Path target = root.resolve(stepName(step));
    Path tmp = root.resolve(".tmp-" + stepName(step) + "-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    long t0 = System.nanoTime();
    try {
      Files.createDirectories(root);
      removeStaleTemporaries(root);
      Files.createDirectory(tmp);
      writeTensors(tmp.resolve(MODEL + ".safetensors"), namedValues(s.model()));
      if (s.ema() != null) {
        writeTensors(tmp.resolve(EMA + ".safetensors"), s.ema());
      }
      writeTensors(tmp.resolve(OPTIMIZER + ".safetensors"), s.optimizer().tensors());
      Map<String, Object> opt = new LinkedHashMap<>();
      opt.put("settings", s.optimizerSettings());
      opt.put("steps", s.optimizer().steps());
      writeJson(tmp.resolve(OPTIMIZER_JSON), opt);
      writeJson(tmp.resolve(SCHEDULER_JSON), s.scheduler());
      writeJson(tmp.resolve(TRAIN_STATE_JSON), s.trainState());
      if (s.dataStatus() != null) {
        ArrayNode ranks = JSON.createArrayNode();
        for (String json : s.dataStatus()) {
          ranks.add(json == null ? JSON.nullNode() : JSON.readTree(json));
        }
        writeJson(tmp.resolve(DATA_STATUS_JSON), ranks);
      }
      linkModelFiles(config.modelFiles(), tmp);
      Manifest.describe(tmp, step).write(tmp);
      fsyncDir(tmp);
      Path old = null;
      if (Files.exists(target)) {
        old = root.resolve(".old-" + stepName(step) + "-" + System.nanoTime());
        Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      fsyncDir(root);
      if (old != null) {
        deleteTree(old);
      }
    } catch (IOException e) {
      try {
        deleteTree(tmp);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw new CheckpointException(target + ": cannot save checkpoint: " + e.getMessage(), e);
    }
    LOG.info("Saved checkpoint {} in {} ms.", target, (System.nanoTime() - t0) / 1_000_000);
    applyRetention(target);
    return target;
  }

  /** The model folder's files into a step folder: hard links where the file system allows, else copies. */
  private static void linkModelFiles(Path from, Path stepDir) throws IOException {
    if (from == null) {
      return;
    }
    try (var files = Files.list(from)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Path target = stepDir.resolve(f.getFileName().toString());
        if (!Files.isRegularFile(f) || f.getFileName().toString().startsWith(".") || Files.exists(target)) {
          continue;
        }
        try {
          Files.createLink(target, f);
        } catch (IOException | UnsupportedOperationException e) {
          Files.copy(f, target);
        }
      }
    }
  }

  /**
   * The step-wide JSON files of a checkpoint (file name -> JSON), as the single-file format writes them: what the
   * committing rank of a sharded save passes as {@code stepFiles}.
   */
  public static Map<String, String> stepFiles(OptimizerSettings optimizerSettings, Map<String, Long> optimizerSteps,
      SchedulerState scheduler, TrainState trainState, List<String> dataStatus) {
    try {
      Map<String, String> files = new LinkedHashMap<>();
      Map<String, Object> opt = new LinkedHashMap<>();
      opt.put("settings", optimizerSettings);
      opt.put("steps", optimizerSteps);
      files.put(OPTIMIZER_JSON, JSON.writeValueAsString(opt));
      files.put(SCHEDULER_JSON, JSON.writeValueAsString(scheduler));
      files.put(TRAIN_STATE_JSON, JSON.writeValueAsString(trainState));
      if (dataStatus != null) {
        ArrayNode ranks = JSON.createArrayNode();
        for (String json : dataStatus) {
          ranks.add(json == null ? JSON.nullNode() : JSON.readTree(json));
        }
        files.put(DATA_STATUS_JSON, JSON.writeValueAsString(ranks));
      }
      return files;
    } catch (IOException e) {
      throw new CheckpointException("cannot write checkpoint states as JSON: " + e.getMessage(), e);
    }
  }

  static Map<String, NDArray> namedValues(ParameterStore store) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (Parameter p : store.all().values()) {
      out.put(p.name(), p.value());
    }
    return out;
  }

  private static void writeTensors(Path file, Map<String, NDArray> tensors) {
    SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      w.add(e.getKey(), e.getValue(), Dtype.F32);
    }
    w.write(file);
  }

  private static void writeJson(Path file, Object value) throws IOException {
    try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(JSON.writeValueAsBytes(value));
      while (b.hasRemaining()) {
        out.write(b);
      }
      out.force(true);
    }
  }

  private static void fsyncDir(Path dir) throws IOException {
    try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
      c.force(true);
    }
  }

  /** Temporary folders left by an interrupted save of this run's writer; one writer per checkpoint_dir. */
  private static void removeStaleTemporaries(Path root) throws IOException {
    try (var list = Files.list(root)) {
      for (Path p : (Iterable<Path>) list::iterator) {
        String n = p.getFileName().toString();
        if (Files.isDirectory(p) && (n.startsWith(".tmp-") || n.startsWith(".old-"))) {
          LOG.warn("Removing {} left by an interrupted checkpoint save.", p);
          deleteTree(p);
        }
      }
    }
  }

  /**
   * Keeps {@code justSaved} and the newest {@code keep_last - 1} other Bakery checkpoints (folders with a
   * manifest; anything else in the folder is left alone).
   */
  private void applyRetention(Path justSaved) {
    if (config.keepLast() <= 0) {
      return;
    }
    int others = 0;
    for (Path d : stepDirs(config.checkpointDir())) {
      if (d.equals(justSaved) || !Files.isRegularFile(d.resolve(Manifest.FILE))) {
        continue;
      }
      if (++others < config.keepLast()) {
        continue;
      }
      try {
        deleteTree(d);
        LOG.info("Removed old checkpoint {} (keep_last={}).", d, config.keepLast());
      } catch (IOException e) {
        LOG.warn("Could not remove old checkpoint {}: {}", d, e.getMessage());
      }
    }
  }

  // ------------------------------------------------------------------------------------------------ find

  /** Step folders under {@code root} (names of digits only), newest step first. */
  public static List<Path> stepDirs(Path root) {
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(root)) {
      return out;
    }
    try (var list = Files.list(root)) {
      list.filter(Files::isDirectory)
          .filter(p -> p.getFileName().toString().matches("\\d+"))
          .forEach(out::add);
    } catch (IOException e) {
      throw new CheckpointException(root + ": cannot list checkpoints: " + e.getMessage(), e);
    }
    out.sort(Comparator.comparingLong((Path p) -> Long.parseLong(p.getFileName().toString())).reversed());
    return out;
  }

  /**
   * The newest complete checkpoint in {@code root}: manifest present and every checksum right. Incomplete or
   * damaged folders are skipped with a log line saying why.
   */
  public static Optional<Path> latestComplete(Path root) {
    for (Path d : stepDirs(root)) {
      Optional<String> problem = problem(d);
      if (problem.isEmpty()) {
        return Optional.of(d);
      }
      LOG.warn("Ignoring checkpoint {}: {}", d, problem.get());
    }
    return Optional.empty();
  }

  /**
   * Why step folder {@code dir} must not be loaded (either format, every checksum checked), or empty when it is
   * complete.
   */
  public static Optional<String> problem(Path dir) {
    if (ShardedCheckpoint.isSharded(dir)) {
      return ShardedCheckpoint.problem(dir, true);
    }
    return Manifest.problem(dir);
  }

  // ------------------------------------------------------------------------------------------------ resume

  /**
   * What a run starts from.
   *
   * @param dir the folder to load
   * @param modelOnly load weights only (step, optimizer, schedule and data start fresh)
   * @param modelFromEma initialise the model from the folder's EMA weights
   */
  public record Plan(Path dir, boolean modelOnly, boolean modelFromEma) {}

  /**
   * The reference's resume rules: with {@code auto_resume} the newest complete checkpoint wins (full resume);
   * otherwise, or when there is none, {@code resume_from} with {@code resume_model_only} and (only then)
   * {@code finetune_from_ema}. Empty when training starts from the model's own initial weights.
   */
  public Optional<Plan> plan() {
    if (config.autoResume()) {
      Optional<Path> latest = latestComplete(config.checkpointDir());
      if (latest.isPresent()) {
        LOG.info("auto_resume: resuming from {}.", latest.get());
        return Optional.of(new Plan(latest.get(), false, false));
      }
      LOG.info("auto_resume: no complete checkpoint in {}.", config.checkpointDir());
    }
    Path from = config.resumeFrom();
    if (from == null) {
      return Optional.empty();
    }
    if (!Files.isDirectory(from)) {
      throw new CheckpointException("resume_from " + from + " is not a folder");
    }
    boolean modelOnly = config.resumeModelOnly();
    if (config.finetuneFromEma() && !modelOnly) {
      LOG.warn("finetune_from_ema has no effect without resume_model_only (as in the reference).");
    }
    if (config.finetuneFromHf() && !modelOnly) {
      throw new CheckpointException("finetune_from_hf: " + from + " is a released model folder with weights only;"
          + " set resume_model_only: true");
    }
    return Optional.of(new Plan(from, modelOnly, modelOnly && config.finetuneFromEma()));
  }

  /** What a full resume brings back besides the weights. */
  public record Restored(
      Path from, boolean modelOnly, TrainState trainState, SchedulerState scheduler, List<String> dataStatus) {

    /** The first optimizer step to run: one after the saved step, or 0 after a model-only load. */
    public long nextStep() {
      return modelOnly ? 0 : trainState.step() + 1;
    }
  }

  /**
   * Loads {@code plan} into the model, the EMA and (full resume) the optimizer. A folder with a manifest must
   * pass its checksums; a folder without one (the reference's or a released model) can only be loaded model-only.
   */
  public Restored restore(Plan plan, ParameterStore model, Ema ema, AdamW optimizer) {
    Path dir = plan.dir();
    if (ShardedCheckpoint.isSharded(dir)) {
      return restoreSharded(plan, model, ema, optimizer);
    }
    boolean ours = Files.isRegularFile(dir.resolve(Manifest.FILE));
    if (ours) {
      Optional<String> problem = Manifest.problem(dir);
      if (problem.isPresent()) {
        throw new CheckpointException(dir + " is damaged: " + problem.get());
      }
    } else if (!plan.modelOnly()) {
      throw new CheckpointException(dir + " has no " + Manifest.FILE + ": it is not a Bakery checkpoint, so only its"
          + " weights can be used; set resume_model_only: true");
    }
    LOG.info("Loading checkpoint from {}{}.", dir, plan.modelOnly() ? " (weights only)" : "");
    String modelBase = plan.modelFromEma() ? EMA : MODEL;
    if (!SafetensorsCheckpoint.existsIn(dir, modelBase)) {
      throw new CheckpointException(dir + ": no " + modelBase + ".safetensors (or sharded index) to load"
          + (plan.modelFromEma() ? " for finetune_from_ema" : ""));
    }
    loadInto(dir, modelBase, model, p -> true, (name, value) -> copy(model.get(name).value(), value));
    if (ema != null) {
      String emaBase = EMA;
      if (!SafetensorsCheckpoint.existsIn(dir, EMA)) {
        LOG.info("{} has no ema.safetensors: the EMA starts from {}.safetensors.", dir, modelBase);
        emaBase = modelBase;
      }
      loadInto(dir, emaBase, model, ema::tracks, ema::set);
    }
    if (plan.modelOnly()) {
      return new Restored(dir, true, null, null, null);
    }
    try {
      try (NDManager scratch = model.manager().newSubManager()) {
        optimizer.importState(readOptimizer(dir, scratch));
      }
      return readStates(dir, false);
    } catch (IOException e) {
      throw new CheckpointException(dir + ": cannot read train state: " + e.getMessage(), e);
    }
  }

  /** The step-wide JSON files, the same in both formats. */
  private static Restored readStates(Path dir, boolean modelOnly) throws IOException {
    TrainState train = JSON.readValue(dir.resolve(TRAIN_STATE_JSON).toFile(), TrainState.class);
    SchedulerState sched = JSON.readValue(dir.resolve(SCHEDULER_JSON).toFile(), SchedulerState.class);
    List<String> data = null;
    Path dataFile = dir.resolve(DATA_STATUS_JSON);
    if (Files.isRegularFile(dataFile)) {
      data = new ArrayList<>();
      for (JsonNode rank : JSON.readTree(dataFile.toFile())) {
        data.add(rank.isNull() ? null : COMPACT.writeValueAsString(rank));
      }
    }
    return new Restored(dir, modelOnly, train, sched, data);
  }

  /**
   * A sharded checkpoint of any world size into this single process (world 1: full tensors), with the same
   * rules as the single-file format: checksums first, weights by name, EMA falling back to the weights.
   */
  private Restored restoreSharded(Plan plan, ParameterStore model, Ema ema, AdamW optimizer) {
    Path dir = plan.dir();
    Optional<String> problem = ShardedCheckpoint.problem(dir, true);
    if (problem.isPresent()) {
      throw new CheckpointException(dir + " is damaged: " + problem.get());
    }
    LOG.info("Loading sharded checkpoint from {}{}.", dir, plan.modelOnly() ? " (weights only)" : "");
    try (ShardedReader reader = ShardedReader.open(dir, false)) { // checked just above
      String modelGroup = plan.modelFromEma() ? EMA : MODEL;
      if (!reader.groups().contains(modelGroup)) {
        throw new CheckpointException(dir + ": no " + modelGroup + " tensors to load"
            + (plan.modelFromEma() ? " for finetune_from_ema" : ""));
      }
      loadGroup(reader, modelGroup, model, p -> true, (name, value) -> copy(model.get(name).value(), value));
      if (ema != null) {
        String emaGroup = reader.groups().contains(EMA) ? EMA : modelGroup;
        if (!emaGroup.equals(EMA)) {
          LOG.info("{} has no EMA: the EMA starts from the {} tensors.", dir, modelGroup);
        }
        loadGroup(reader, emaGroup, model, ema::tracks, ema::set);
      }
      if (plan.modelOnly()) {
        return new Restored(dir, true, null, null, null);
      }
      JsonNode opt = JSON.readTree(reader.stepFile(OPTIMIZER_JSON).orElseThrow(
          () -> new CheckpointException(dir + ": no " + OPTIMIZER_JSON + " for a full resume")));
      Map<String, Long> steps = new LinkedHashMap<>();
      opt.get("steps").fields().forEachRemaining(e -> steps.put(e.getKey(), e.getValue().asLong()));
      try (NDManager scratch = model.manager().newSubManager()) {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (String name : reader.names(OPTIMIZER)) {
          tensors.put(name, reader.readFull(OPTIMIZER, name, scratch));
        }
        optimizer.importState(new AdamW.State(tensors, steps));
      }
      return readStates(dir, false);
    } catch (IOException e) {
      throw new CheckpointException(dir + ": cannot read train state: " + e.getMessage(), e);
    }
  }

  private static void loadGroup(ShardedReader reader, String group, ParameterStore model, Predicate<String> wanted,
      java.util.function.BiConsumer<String, NDArray> sink) {
    Set<String> missing = new TreeSet<>();
    Set<String> unexpected = new TreeSet<>();
    int loaded = 0;
    for (String name : reader.names(group)) {
      if (!model.contains(name) && !NOT_LOADED.contains(name)) {
        unexpected.add(name);
      }
    }
    for (Parameter p : model.all().values()) {
      String name = p.name();
      if (NOT_LOADED.contains(name) || !wanted.test(name)) {
        continue;
      }
      if (!reader.has(group, name)) {
        missing.add(name);
        continue;
      }
      long[] want = p.value().getShape().getShape();
      if (!java.util.Arrays.equals(want, reader.shape(group, name))) {
        throw new CheckpointException(reader.dir() + ": " + group + "/" + name + " has shape "
            + java.util.Arrays.toString(reader.shape(group, name)) + ", the model's is "
            + java.util.Arrays.toString(want));
      }
      try (NDManager m = model.manager().newSubManager()) {
        sink.accept(name, reader.readFull(group, name, m));
      }
      loaded++;
    }
    if (loaded == 0 && !missing.isEmpty()) {
      throw new CheckpointException(reader.dir() + "/" + group + ": none of the model's " + missing.size()
          + " weights are in this checkpoint (first missing: " + missing.iterator().next() + ")");
    }
    if (!missing.isEmpty()) {
      LOG.warn("{}/{}: {} weights missing, kept as initialised: {}", reader.dir(), group, missing.size(),
          preview(missing));
    }
    if (!unexpected.isEmpty()) {
      LOG.warn("{}/{}: {} tensors not in the model, ignored: {}", reader.dir(), group, unexpected.size(),
          preview(unexpected));
    }
    LOG.info("{}/{}: loaded {} tensors.", reader.dir(), group, loaded);
  }

  private static AdamW.State readOptimizer(Path dir, NDManager scratch) throws IOException {
    JsonNode opt = JSON.readTree(dir.resolve(OPTIMIZER_JSON).toFile());
    Map<String, Long> steps = new LinkedHashMap<>();
    opt.get("steps").fields().forEachRemaining(e -> steps.put(e.getKey(), e.getValue().asLong()));
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    try (SafetensorsCheckpoint f = SafetensorsCheckpoint.openIn(dir, OPTIMIZER)) {
      for (TensorSource t : f.tensors().values()) {
        tensors.put(t.name(), t.load(scratch));
      }
    }
    return new AdamW.State(tensors, steps);
  }

  /**
   * Streams tensors of {@code dir/base} into the store, one at a time: names the store lacks are reported, as are
   * store names the file lacks, as torch's non-strict load does. Fails when nothing matches (wrong file).
   */
  private static void loadInto(Path dir, String base, ParameterStore model, Predicate<String> wanted,
      java.util.function.BiConsumer<String, NDArray> sink) {
    Set<String> unexpected = new TreeSet<>();
    Set<String> missing = new TreeSet<>();
    int loaded = 0;
    try (SafetensorsCheckpoint f = SafetensorsCheckpoint.openIn(dir, base)) {
      Map<String, TensorSource> tensors = f.tensors();
      for (String name : tensors.keySet()) {
        if (!model.contains(name) && !NOT_LOADED.contains(name)) {
          unexpected.add(name);
        }
      }
      for (Parameter p : model.all().values()) {
        String name = p.name();
        if (NOT_LOADED.contains(name) || !wanted.test(name)) {
          continue;
        }
        TensorSource t = tensors.get(name);
        if (t == null) {
          missing.add(name);
          continue;
        }
        long[] want = p.value().getShape().getShape();
        if (!java.util.Arrays.equals(want, t.shape())) {
          throw new CheckpointException(dir.resolve(base + ".safetensors") + ": " + name + " has shape "
              + java.util.Arrays.toString(t.shape()) + ", the model's is " + java.util.Arrays.toString(want));
        }
        try (NDManager m = model.manager().newSubManager()) {
          sink.accept(name, t.load(m));
        }
        loaded++;
      }
    }
    if (loaded == 0 && !missing.isEmpty()) {
      throw new CheckpointException(dir + "/" + base + ": none of the model's " + missing.size()
          + " weights are in this file (first missing: " + missing.iterator().next() + ")");
    }
    if (!missing.isEmpty()) {
      LOG.warn("{}/{}: {} weights missing, kept as initialised: {}", dir, base, missing.size(), preview(missing));
    }
    if (!unexpected.isEmpty()) {
      LOG.warn("{}/{}: {} tensors not in the model, ignored: {}", dir, base, unexpected.size(), preview(unexpected));
    }
    LOG.info("{}/{}: loaded {} tensors.", dir, base, loaded);
  }

  private static String preview(Set<String> names) {
    List<String> first = new ArrayList<>(names).subList(0, Math.min(5, names.size()));
    return first + (names.size() > 5 ? " ..." : "");
  }

  private static void copy(NDArray target, NDArray source) {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Torch.view(target).copy_(Torch.view(source));
    }
  }

  /** Removes a folder tree (tests start over in the same folder). */
  public static void deleteTreeForTests(Path root) {
    try {
      deleteTree(root);
    } catch (IOException e) {
      throw new CheckpointException(root + ": cannot delete: " + e.getMessage(), e);
    }
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (var walk = Files.walk(root)) {
      List<Path> all = walk.sorted(Comparator.reverseOrder()).toList();
      for (Path p : all) {
        Files.deleteIfExists(p);
      }
    }
  }
}
