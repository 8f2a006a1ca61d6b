package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
  /** Exit code, stdout and stderr of one invocation. */
  record Result(int code, String out, String err) {
    List<String> errLines() {
      return err.lines().toList();
    }
  }

  static Result run(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    int code = Main.run(List.of(args), new Cli(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8)));
    return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  static void assertOneLineError(Result r, String expected) {
    assertEquals(2, r.code(), r.toString());
    assertEquals(List.of(expected), r.errLines(), r.toString());
  }

  @Test
  void usageErrorsExitWithTwoAndOneLine() {
    String all = String.join(", ", Main.commands().children().stream().map(Command::name).toList());
    assertTrue(all.startsWith("quickstart, train, data, model, checkpoint, bench"), all);
    assertOneLineError(run("trian"),
        "bakery: unknown subcommand 'trian' (did you mean 'train'?); choose one of " + all);
    assertOneLineError(run("data"), "bakery data: missing subcommand (example, inspect); see 'bakery data --help'");
    assertOneLineError(run("data", "inspekt", "x.yaml"),
        "bakery data: unknown subcommand 'inspekt' (did you mean 'inspect'?); choose one of example, inspect");
    assertOneLineError(run("checkpoint", "inspect"),
        "bakery checkpoint inspect: missing <path>; see 'bakery checkpoint inspect --help'");
    assertOneLineError(run("checkpoint", "inspect", "a", "b"),
        "bakery checkpoint inspect: unexpected argument 'b'; see 'bakery checkpoint inspect --help'");
    assertOneLineError(run("bench", "collective", "--jsn"),
        "bakery bench collective: unknown option '--jsn' (did you mean 'json'?); see 'bakery bench collective --help'");
    assertOneLineError(run("bench", "collective", "--processes", "two"),
        "bakery bench collective: --processes expects positive integers like 2,3, got 'two'");
    assertOneLineError(run("train"),
        "bakery train: missing <config> (a YAML file, or the reference flags); see 'bakery train --help'");
    Result none = run();
    assertEquals(2, none.code());
    assertTrue(none.err().startsWith("usage: bakery <" + all.replace(", ", "|") + ">"), none.err());
  }

  @Test
  void everyCommandHasHelp() throws Exception {
    assertHelp(List.of(), Main.commands());
  }

  /** {@code words}: the command's words after "bakery" (empty for the root). */
  private static void assertHelp(List<String> words, Command c) {
    List<String> args = new java.util.ArrayList<>(words);
    args.add("--help");
    Result r = run(args.toArray(new String[0]));
    assertEquals(0, r.code(), "help of " + words + ": " + r);
    assertTrue(r.out().startsWith("usage: bakery" + (words.isEmpty() ? "" : " " + String.join(" ", words))),
        r.out());
    if (c instanceof CommandGroup g) {
      for (Command child : g.children()) {
        List<String> next = new java.util.ArrayList<>(words);
        next.add(child.name());
        assertHelp(next, child);
      }
    }
  }

  @Test
  void trainReportsConfigErrorsInOneLine(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("job.yaml");
    Files.writeString(f, "- type: trainer\n  config:\n    learing_rate: 1.0e-6\n");
    assertOneLineError(run("train", f.toString()),
        "bakery train: " + f + ": unknown field 'learing_rate' in trainer config (did you mean 'learning_rate'?)");
    assertOneLineError(run("train", dir.resolve("missing.yaml").toString()),
        "bakery train: " + dir.resolve("missing.yaml") + ": config file not found");
    assertOneLineError(run("train", "--lr", "fast"), "bakery train: --lr: expected a number, got 'fast'");
    assertOneLineError(run("train", "vae"), "bakery train vae: expected exactly one <config> (a VAE training YAML)");
    assertOneLineError(run("train", "vae", dir.resolve("none.yaml").toString()),
        "bakery train vae: " + dir.resolve("none.yaml") + ": config file not found");
    Files.writeString(f, "model:\n  preset: tiny\n");
    assertOneLineError(run("train", f.toString(), "--learing_rate", "1"),
        "bakery train: " + f + ": unknown flag '--learing_rate' (did you mean '--learning_rate'?)");
  }

  @Test
  void trainPrintsTheResolvedConfigWithOverrides(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("job.yaml");
    Files.writeString(f, "model:\n  preset: tiny\ndata:\n  dataset_config_file: groups.yaml\n");
    Result r = run("train", f.toString(), "--lr", "3e-4", "--print-config", "--total_steps=12");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("lr: 3.0E-4") || r.out().contains("lr: 0.0003"), r.out());
    assertTrue(r.out().contains("total_steps: 12"), r.out());
    assertTrue(r.out().contains("preset: \"tiny\"") || r.out().contains("preset: tiny"), r.out());
  }

  @Test
  void trainReadsAWholeTorchrunLaunchLine(@TempDir Path dir) throws Exception {
    Result r = run("train", "torchrun", "--nnodes=2", "--node_rank=1", "--nproc_per_node=4",
        "--master_addr=10.0.0.5", "--master_port=29500", "train/pretrain_unified_navit.py",
        "--dataset_config_file", "groups.yaml", "--model_path", dir.toString(), "--lr", "2e-5", "--print-config");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("lr: 2.0E-5") || r.out().contains("lr: 0.00002"), r.out());
    assertTrue(r.out().contains("nnodes: 2") && r.out().contains("node_rank: 1"), r.out());
    r = run("train", "train/pretrain_unified_navit.py", "--dataset_config_file", "groups.yaml", "--model_path",
        dir.toString(), "--print-config");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("groups.yaml"), r.out());
  }

  @Test
  void benchRecoveryRefusesAnUnknownPresetInOneLine() {
    Result r = run("bench", "recovery", "--presets", "nope");
    assertEquals(2, r.code());
    assertEquals(1, r.errLines().size(), r.toString());
    assertTrue(r.err().startsWith("bakery bench recovery: no preset 'nope' in "), r.err());
    assertEquals("", r.out());
  }
}
