package ai.bakery.cli;

import ai.bakery.runtime.infer.Chat;
import ai.bakery.runtime.infer.Images;
import ai.bakery.runtime.infer.InferenceModel;
import java.awt.image.BufferedImage;

/** {@code bakery chat <checkpoint> --image x.png "question"}: prints the model's answer. */
final class ChatCommand {
  private ChatCommand() {}

  static Command create() {
    return new LeafCommand("chat", "answer a question about an image (greedy decoding)",
        InferenceArgs.common(Args.Spec.of("checkpoint", "question")
            .option("image=", "the picture asked about (optional)")
            .option("size=", "long side the picture is resized to for the ViT (default 64)")
            .option("max-tokens=", "answer length limit (default 32)")).details(InferenceArgs.DETAILS),
        ChatCommand::run);
  }

  private static int run(Args a, Cli cli) {
    BufferedImage image = null;
    if (a.option("image").isPresent()) {
      try {
        image = Images.read(java.nio.file.Path.of(a.option("image").get()));
      } catch (IllegalArgumentException e) {
        throw new UsageException(a.path() + ": " + e.getMessage());
      }
    }
    int size = (int) a.longOption("size", 64);
    int max = (int) a.longOption("max-tokens", 32);
    if (max < 1 || size < 14) {
      throw new UsageException(a.path() + ": --max-tokens must be >= 1 and --size >= 14");
    }
    try (Preemption signals = Preemption.exitAtOnce("no answer");
        InferenceModel m = InferenceArgs.load(a, false)) {
      cli.out().println(new Chat(m).answer(image, a.positional(1), size, max));
    }
    return 0;
  }
}
