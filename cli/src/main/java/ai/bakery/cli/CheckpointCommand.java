package ai.bakery.cli;

import ai.bakery.model.io.SafetensorsException;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.model.io.TensorSource;
import ai.bakery.runtime.checkpoint.CheckpointException;
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.checkpoint.Manifest;
import ai.bakery.runtime.checkpoint.ShardedCheckpoint;
import ai.bakery.runtime.checkpoint.ShardedExport;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/** {@code bakery checkpoint inspect}: what a checkpoint holds, read from safetensors headers only. */
final class CheckpointCommand extends CommandGroup {
  private static final ObjectMapper JSON = new ObjectMapper();

  CheckpointCommand() {
    super("checkpoint", "look into and export checkpoints");
    add(new LeafCommand("inspect",
        "list a checkpoint's tensors (name, dtype, shape, size) and its step; <path> is a step folder, a "
            + "checkpoint root (its newest complete step is shown), a BAGEL model folder or one .safetensors file",
        Args.Spec.of("path").option("json", "one JSON object per line")
            .option("summary", "one line per file instead of one per tensor"),
        CheckpointCommand::inspect));
    add(new LeafCommand("export",
        "write the reference's consolidated model.safetensors and ema.safetensors from a (sharded) step folder, "
            + "tensor by tensor; <step-dir> may also be a checkpoint root (its newest complete step is exported)",
        Args.Spec.of("step-dir", "out"),
        CheckpointCommand::export));
  }

  private static int export(Args args, Cli cli) {
    Path from = Path.of(args.positional(0));
    Path out = Path.of(args.positional(1));
    if (!Files.isDirectory(from)) {
      throw new UsageException(args.path() + ": " + from + " is not a folder");
    }
    Path step = from;
    if (!ShardedCheckpoint.isSharded(from) && !Files.isRegularFile(from.resolve(Manifest.FILE))) {
      step = CheckpointManager.latestComplete(from).orElseThrow(() -> new UsageException(args.path() + ": " + from
          + " is neither a checkpoint step folder nor a folder holding complete ones"));
    }
    List<Path> files;
    try {
      files = ShardedExport.export(step, out);
    } catch (CheckpointException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    for (Path f : files) {
      try {
        cli.out().println("wrote " + f + " (" + human(Files.size(f)) + ")");
      } catch (IOException e) {
        cli.out().println("wrote " + f);
      }
    }
    return 0;
  }

  private static int inspect(Args args, Cli cli) throws IOException {
    Path path = Path.of(args.positional(0));
    if (!Files.exists(path)) {
      throw new UsageException(args.path() + ": " + path + " does not exist");
    }
    Path dir = path;
    List<Path> files;
    if (Files.isRegularFile(path)) {
      files = List.of(path);
      dir = path.toAbsolutePath().getParent();
    } else {
      files = safetensorsIn(path);
      if (files.isEmpty()) {
        Optional<Path> latest = CheckpointManager.latestComplete(path);
        if (latest.isEmpty()) {
          throw new UsageException(args.path() + ": " + path + " holds no .safetensors files and no complete "
              + "checkpoint step folders");
        }
        dir = latest.get();
        files = safetensorsIn(dir);
      }
    }
    boolean json = args.flag("json");
    if (!json) {
      for (String line : describeFolder(dir)) {
        cli.out().println(line);
      }
    }
    List<Map<String, Object>> rows = new ArrayList<>();
    for (Path f : files) {
      try (SafetensorsReader reader = SafetensorsReader.open(f)) {
        long bytes = 0;
        long numel = 0;
        for (TensorSource t : reader.tensors().values()) {
          long size = t.numel() * t.dtype().size();
          bytes += size;
          numel += t.numel();
          if (!args.flag("summary")) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("file", f.getFileName().toString());
            row.put("tensor", t.name());
            row.put("dtype", t.dtype().toString());
            row.put("shape", t.shape());
            row.put("numel", t.numel());
            row.put("bytes", size);
            rows.add(row);
          }
        }
        if (args.flag("summary")) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("file", f.getFileName().toString());
          row.put("tensors", reader.tensors().size());
          row.put("numel", numel);
          row.put("bytes", bytes);
          row.put("size", human(bytes));
          rows.add(row);
        }
      } catch (SafetensorsException e) {
        throw new UsageException(args.path() + ": " + e.getMessage());
      }
    }
    BenchRows.of(rows).print(cli.out(), json);
    return 0;
  }

  /** Step, completeness and the training state of a step folder, as header lines. */
  static List<String> describeFolder(Path dir) {
    List<String> lines = new ArrayList<>();
    lines.add("checkpoint: " + dir);
    Path state = dir.resolve(CheckpointManager.TRAIN_STATE_JSON);
    if (Files.isRegularFile(state)) {
      try {
        JsonNode s = JSON.readTree(state.toFile());
        lines.add("step: " + s.path("step").asLong() + "  micro_step: " + s.path("micro_step").asLong()
            + "  world_size: " + s.path("world_size").asInt() + "  tokens_seen: " + s.path("tokens_seen").asLong());
      } catch (IOException e) {
        lines.add("step: unknown (" + state.getFileName() + " unreadable: " + e.getMessage() + ")");
      }
    }
    if (Files.isRegularFile(dir.resolve(Manifest.FILE))) {
      lines.add("manifest: " + Manifest.problem(dir).map(p -> "INCOMPLETE: " + p).orElse("complete"));
    } else if (ShardedCheckpoint.isSharded(dir)) {
      lines.add("sharded: " + ShardedCheckpoint.problem(dir, true).map(p -> "INCOMPLETE: " + p).orElse("complete"));
    }
    return lines;
  }

  private static List<Path> safetensorsIn(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p)).sorted()
          .toList();
    }
  }

  static String human(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return u == 0 ? bytes + " B" : String.format(java.util.Locale.ROOT, "%.1f %s", v, units[u]);
  }
}
