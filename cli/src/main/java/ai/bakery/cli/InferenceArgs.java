package ai.bakery.cli;

import ai.bakery.runtime.infer.InferenceModel;
import ai.bakery.runtime.infer.SamplingOptions;
import java.nio.file.Files;
import java.nio.file.Path;

/** Options and loading shared by generate, edit and chat. */
final class InferenceArgs {
  static final String DETAILS = String.join("\n",
      "<checkpoint> is a checkpoint step folder (results/quickstart/checkpoints/0000099) or a released model",
      "folder; its EMA weights are used when it has ema.safetensors. A training checkpoint holds only weights:",
      "--model names the model folder (or preset) it was trained with (default: the checkpoint itself when it",
      "has config.json, else the tiny preset), --vae the trained autoencoder (default: ae.safetensors in the",
      "checkpoint or in the model folder).");

  private InferenceArgs() {}

  static Args.Spec common(Args.Spec spec) {
    return spec.option("model=", "model folder or preset name the checkpoint was trained with")
        .option("vae=", "trained autoencoder (ae.safetensors)");
  }

  static Args.Spec sampling(Args.Spec spec) {
    SamplingOptions d = SamplingOptions.TINY;
    return spec.option("steps=", "Euler steps (default " + d.steps() + ")")
        .option("cfg=", "text guidance scale (default " + d.cfgText() + "; 1 = off)")
        .option("cfg-img=", "image guidance scale for edits (default " + d.cfgImage() + ")")
        .option("shift=", "timestep shift (default " + d.timestepShift() + ")")
        .option("seed=", "noise seed (default " + d.seed() + ")")
        .option("size=", "image side in pixels (default " + d.size() + ")")
        .option("out=", "PNG to write");
  }

  static SamplingOptions options(Args a) {
    SamplingOptions o = SamplingOptions.TINY;
    try {
      o = o.withSteps((int) a.longOption("steps", o.steps()))
          .withCfg(dbl(a, "cfg", o.cfgText()), dbl(a, "cfg-img", o.cfgImage()))
          .withShift(dbl(a, "shift", o.timestepShift()))
          .withSeed(a.longOption("seed", o.seed()))
          .withSize((int) a.longOption("size", o.size()));
    } catch (IllegalArgumentException e) {
      throw new UsageException(a.path() + ": " + e.getMessage());
    }
    return o;
  }

  private static double dbl(Args a, String name, double dflt) {
    String v = a.option(name).orElse(null);
    if (v == null) {
      return dflt;
    }
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new UsageException(a.path() + ": --" + name + " expects a number, got '" + v + "'");
    }
  }

  static InferenceModel load(Args a, boolean needVae) {
    Path checkpoint = Path.of(a.positional(0));
    if (!Files.isDirectory(checkpoint)) {
      throw new UsageException(a.path() + ": checkpoint folder " + checkpoint + " not found");
    }
    Path model = a.option("model").map(InferenceArgs::modelDir).orElse(null);
    if (model == null && !Files.isRegularFile(checkpoint.resolve("config.json"))) {
      model = modelDir("tiny");
    }
    Path vae = a.option("vae").map(Path::of).orElse(null);
    return InferenceModel.load(checkpoint, model, vae, needVae);
  }

  /** A folder, or a preset name under configs/model of the working directory or a parent. */
  static Path modelDir(String nameOrPath) {
    Path p = Path.of(nameOrPath);
    if (Files.isDirectory(p)) {
      return p;
    }
    for (Path base = Path.of("").toAbsolutePath(); base != null; base = base.getParent()) {
      Path dir = base.resolve("configs").resolve("model").resolve(nameOrPath);
      if (Files.isDirectory(dir)) {
        return dir;
      }
    }
    throw new UsageException("--model: " + nameOrPath + " is neither a folder nor a preset under configs/model");
  }

  static Path out(Args a, String dflt) {
    Path out = Path.of(a.option("out").orElse(dflt));
    if (!out.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".png")) {
      throw new UsageException(a.path() + ": --out " + out + " must be a .png file");
    }
    return out;
  }
}
