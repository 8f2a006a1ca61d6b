package ai.bakery.data.source.edit;

import ai.bakery.data.sample.ImageSource;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.RowContext;
import ai.bakery.data.source.RowMapper;
import ai.bakery.data.source.SkipException;
import ai.bakery.data.source.SkipReason;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * An editing parquet row: {@code image_list} (n >= 2 encoded images, each an edit of the previous) and
 * {@code instruction_list} (n - 1 lists of alternative instructions, entry i leading to image i + 1). As the
 * reference builds its interleaved plan: a start image is drawn, then an end 1 or 2 steps later. The start
 * image is a clean VAE condition and a ViT input; then either all the steps' instructions joined into one
 * text and the end image as the target (half of multi-step spans), or per step its instruction followed by
 * its image: intermediate images are targets that also condition what follows (VAE + ViT), the last one a
 * target only. Instructions are CFG-droppable, without loss.
 */
public final class EditRowMapper implements RowMapper {

  @Override
  public List<SampleItem> map(JsonNode row, RowContext ctx) throws SkipException {
    JsonNode images = row.get("image_list");
    JsonNode instructions = row.get("instruction_list");
    if (images == null || !images.isArray() || instructions == null || !instructions.isArray()) {
      throw new SkipException(SkipReason.CORRUPT_ROW, "needs list columns image_list and instruction_list");
    }
    int n = images.size();
    if (n < 2) {
      throw new SkipException(SkipReason.CORRUPT_ROW, "image_list has " + n + " images, an edit needs 2");
    }
    if (instructions.size() < n - 1) {
      throw new SkipException(SkipReason.CORRUPT_ROW,
          "instruction_list has " + instructions.size() + " entries for " + n + " images");
    }
    SplittableRandom rng = ctx.random();
    int start = rng.nextInt(n - 1);
    int maxEnd = Math.min(start + 3, n);
    int end = start + 1 + rng.nextInt(maxEnd - start - 1);

    List<SampleItem> items = new ArrayList<>();
    items.add(new SampleItem.Image(image(images, start, ctx), true, true, false));
    if (end - start > 1 && rng.nextDouble() < 0.5) {
      if (end == n - 1) {
        end -= 1;
      }
      StringBuilder joined = new StringBuilder();
      for (int i = start + 1; i <= end; i++) {
        joined.append(pick(instructions.get(i - 1), i - 1, rng)).append(". ");
      }
      items.add(new SampleItem.Text(joined.toString().stripTrailing(), false, true));
      items.add(new SampleItem.Image(image(images, end, ctx), false, false, true));
    } else {
      for (int i = start + 1; i <= end; i++) {
        items.add(new SampleItem.Text(pick(instructions.get(i - 1), i - 1, rng), false, true));
        boolean last = i == end;
        items.add(new SampleItem.Image(image(images, i, ctx), !last, !last, true));
      }
    }
    return items;
  }

  private static ImageSource image(JsonNode images, int i, RowContext ctx) throws SkipException {
    JsonNode cell = images.get(i);
    if (cell == null || !cell.isBinary()) {
      throw new SkipException(SkipReason.CORRUPT_ROW, "image_list[" + i + "] is not binary");
    }
    try {
      return ctx.imageFromBytes(cell.binaryValue(), "image_list[" + i + "]");
    } catch (IOException e) {
      throw new SkipException(SkipReason.CORRUPT_ROW, "unreadable image_list[" + i + "]");
    }
  }

  private static String pick(JsonNode alternatives, int i, SplittableRandom rng) throws SkipException {
    if (alternatives != null && alternatives.isTextual()) {
      return alternatives.textValue();
    }
    if (alternatives == null || !alternatives.isArray() || alternatives.isEmpty()) {
      throw new SkipException(SkipReason.CORRUPT_ROW, "instruction_list[" + i + "] has no instruction");
    }
    return alternatives.get(rng.nextInt(alternatives.size())).asText();
  }
}
