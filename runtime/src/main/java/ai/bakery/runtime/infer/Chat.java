package ai.bakery.runtime.infer;

import ai.bakery.data.plan.PlannedSample;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.bagel.BagelInputs;
import ai.bakery.runtime.train.BatchToTensors;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.NoGradGuard;

/**
 * Answers a question about an image, as the reference's understanding path ({@code interleave_inference} with
 * {@code understanding_output}): the image goes to the ViT only, the question is a text split, and the answer is
 * decoded greedily from a fresh {@code <|im_start|>} until {@code <|im_end|>} or the length limit.
 *
 * <p>Without a KV cache every new token runs the whole context again (quadratic in the answer's length); the
 * tiny preset's contexts are under a hundred tokens and its answers a few words.
 */
public final class Chat {
  private final InferenceModel model;
  private final BatchToTensors toTensors;

  public Chat(InferenceModel model) {
    this.model = model;
    if (!model.config().visualUnd()) {
      throw new IllegalArgumentException("chat needs a model with visual_und (a ViT); this one has none");
    }
    this.toTensors = new BatchToTensors(model.vae() == null ? null : model.vae()::encodeMean);
  }

  /**
   * @param image the picture asked about, or null for a text-only question
   * @param imageSize long side the picture is resized to for the ViT (capped by the model's position table)
   * @param maxTokens answer length limit in tokens
   */
  public String answer(BufferedImage image, String question, int imageSize, int maxTokens) {
    var tok = model.tokenizer();
    Contexts c = new Contexts(model.config(), tok, tok.specialTokens(), imageSize);
    List<SampleItem> items = new ArrayList<>();
    if (image != null) {
      items.add(Contexts.input(image, true, false));
    }
    items.add(Contexts.prompt(question));
    PlannedSample context = c.plan(items, imageSize);
    int[] ids = decode(c, context, maxTokens);
    return tok.decode(ids, true).strip();
  }

  /** Greedy tokens after bos, without the closing eos. */
  int[] decode(Contexts c, PlannedSample context, int maxTokens) {
    Bagel bagel = model.bagel();
    int[] answer = {c.bos()};
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (int n = 0; n < maxTokens; n++) {
        try (NDManager step = NDManager.newBaseManager()) {
          var pack = c.pack(Contexts.withText(context, answer));
          BagelInputs in = toTensors.convert(pack, step);
          NDArray hidden = bagel.inferHidden(in, step, null, 0f);
          NDArray last = step.create(new long[] {pack.sequenceLength() - 1});
          NDArray logits = bagel.logitsAt(hidden, last, step);
          int next = (int) logits.argMax(-1).toType(ai.djl.ndarray.types.DataType.INT64, false).toLongArray()[0];
          if (next == c.eos()) {
            break;
          }
          answer = Arrays.copyOf(answer, answer.length + 1);
          answer[answer.length - 1] = next;
        }
      }
    }
    return Arrays.copyOfRange(answer, 1, answer.length);
  }
}
