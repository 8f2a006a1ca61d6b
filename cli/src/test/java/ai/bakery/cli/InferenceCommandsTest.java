package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** generate, edit and chat from a checkpoint folder, and their one-line errors for bad input. */
class InferenceCommandsTest {
  @TempDir
  Path tmp;

  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(List.of(args), new Cli(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8)));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void generateEditAndChatRunFromACheckpoint() throws Exception {
    Torch.init();
    Path model = InferenceArgs.modelDir("tiny");
    BagelConfig cfg = BagelConfig.readModelDir(model);
    Path ckpt = tmp.resolve("ckpt");
    Files.createDirectories(ckpt);
    try (NDManager base = NDManager.newBaseManager(); ParameterStore s = new ParameterStore(base);
        ParameterStore v = new ParameterStore(base)) {
      new Bagel(cfg, s, 1);
      new FluxAutoencoder(cfg.vae(), v, "", Init.seeded(2), Precision.FP32);
      new SafetensorsWriter().addAll(s, Dtype.F32).write(ckpt.resolve("model.safetensors"));
      new SafetensorsWriter().addAll(v, Dtype.F32).write(ckpt.resolve("ae.safetensors"));
    }
    Path png = tmp.resolve("x.png");
    Run g = run("generate", ckpt.toString(), "--model", model.toString(), "--prompt", "a red circle on a blue background",
        "--steps", "2", "--out", png.toString());
    assertEquals(0, g.code(), g.err());
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(64, img.getWidth());
    Path edited = tmp.resolve("y.png");
    Run e = run("edit", ckpt.toString(), "make it green", "--image", png.toString(), "--steps", "2", "--out",
        edited.toString());
    assertEquals(0, e.code(), e.err());
    assertTrue(Files.size(edited) > 0);
    Run c = run("chat", ckpt.toString(), "What colour is the shape?", "--image", png.toString(), "--max-tokens", "3");
    assertEquals(0, c.code(), c.err());
    assertTrue(c.out().endsWith("\n"), "prints one answer line");

    Run badOut = run("generate", ckpt.toString(), "--prompt", "x", "--out", tmp.resolve("x.jpg").toString());
    assertEquals(2, badOut.code());
    assertTrue(badOut.err().contains("--out") && badOut.err().contains(".png"), badOut.err());
    Run noCkpt = run("generate", tmp.resolve("nope").toString(), "--prompt", "x");
    assertEquals(2, noCkpt.code());
    assertTrue(noCkpt.err().contains("not found"), noCkpt.err());
    Run noImage = run("edit", ckpt.toString(), "x", "--image", tmp.resolve("missing.png").toString());
    assertEquals(2, noImage.code());
    assertTrue(noImage.err().contains("missing.png"), noImage.err());
    Run badSteps = run("generate", ckpt.toString(), "--prompt", "x", "--steps", "1");
    assertEquals(2, badSteps.code());
    assertTrue(badSteps.err().contains("steps"), badSteps.err());
  }
}
