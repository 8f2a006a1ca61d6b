package ai.bakery.cli;

import ai.bakery.runtime.infer.ImageGenerator;
import ai.bakery.runtime.infer.Images;
import ai.bakery.runtime.infer.InferenceModel;
import ai.bakery.runtime.infer.SamplingOptions;
import java.awt.image.BufferedImage;
import java.nio.file.Path;

/** {@code bakery generate <checkpoint> --prompt "..." --out x.png}: text to image. */
final class GenerateCommand {
  private GenerateCommand() {}

  static Command create() {
    return new LeafCommand("generate", "generate an image from a text prompt (flow matching with CFG)",
        InferenceArgs.sampling(InferenceArgs.common(Args.Spec.of("checkpoint").option("prompt=", "what to draw")))
            .details(InferenceArgs.DETAILS),
        GenerateCommand::run);
  }

  private static int run(Args a, Cli cli) {
    String prompt = a.option("prompt").orElseThrow(() -> new UsageException(a.path() + ": --prompt is required"));
    SamplingOptions o = InferenceArgs.options(a);
    Path out = InferenceArgs.out(a, "generated.png");
    try (Preemption signals = Preemption.exitAtOnce(out + " not written");
        InferenceModel m = InferenceArgs.load(a, true)) {
      BufferedImage img = new ImageGenerator(m).generate(prompt, o);
      Images.writePng(img, out);
    }
    cli.out().println("wrote " + out);
    return 0;
  }
}
