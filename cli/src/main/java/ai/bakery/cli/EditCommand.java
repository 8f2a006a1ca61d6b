package ai.bakery.cli;

import ai.bakery.runtime.infer.ImageGenerator;
import ai.bakery.runtime.infer.Images;
import ai.bakery.runtime.infer.InferenceModel;
import ai.bakery.runtime.infer.SamplingOptions;
import java.awt.image.BufferedImage;
import java.nio.file.Path;

/** {@code bakery edit <checkpoint> --image x.png "instruction" --out y.png}: image editing. */
final class EditCommand {
  private EditCommand() {}

  static Command create() {
    return new LeafCommand("edit", "edit an image as an instruction says (the image conditions VAE and ViT)",
        InferenceArgs.sampling(InferenceArgs.common(Args.Spec.of("checkpoint", "instruction")
            .option("image=", "the picture to edit"))).details(InferenceArgs.DETAILS),
        EditCommand::run);
  }

  private static int run(Args a, Cli cli) {
    Path imageFile = Path.of(a.option("image").orElseThrow(() -> new UsageException(a.path() + ": --image is required")));
    SamplingOptions o = InferenceArgs.options(a);
    Path out = InferenceArgs.out(a, "edited.png");
    BufferedImage input;
    try {
      input = Images.read(imageFile);
    } catch (IllegalArgumentException e) {
      throw new UsageException(a.path() + ": " + e.getMessage());
    }
    try (Preemption signals = Preemption.exitAtOnce(out + " not written");
        InferenceModel m = InferenceArgs.load(a, true)) {
      Images.writePng(new ImageGenerator(m).edit(input, a.positional(1), o), out);
    }
    cli.out().println("wrote " + out);
    return 0;
  }
}
