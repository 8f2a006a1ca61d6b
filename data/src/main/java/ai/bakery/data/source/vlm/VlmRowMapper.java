package ai.bakery.data.source.vlm;

import ai.bakery.data.sample.ImageSource;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.RowContext;
import ai.bakery.data.source.RowMapper;
import ai.bakery.data.source.SkipException;
import ai.bakery.data.source.SkipReason;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A LLaVA-style JSONL record: {@code image} (a path or a list of paths) or {@code video}, and
 * {@code conversations} of {@code {from, value}} turns. {@code <image>} marks where images go in human turns
 * (markers beyond the image count are dropped, as the reference does); a video's sampled frames replace its
 * {@code <video>} marker as that many images. Human (and system) text carries no loss, gpt text carries loss;
 * images feed the ViT only. Nothing is CFG-droppable. A record without any gpt text is skipped.
 */
public final class VlmRowMapper implements RowMapper {
  static final String IMAGE = "<image>";
  static final String VIDEO = "<video>";

  @Override
  public List<SampleItem> map(JsonNode row, RowContext ctx) throws SkipException {
    if (!row.isObject()) {
      throw new SkipException(SkipReason.MALFORMED_JSON, "record is not a JSON object");
    }
    JsonNode conversations = row.get("conversations");
    if (conversations == null || !conversations.isArray()) {
      throw new SkipException(SkipReason.MALFORMED_JSON, "no 'conversations' list");
    }
    List<ImageSource> images = new ArrayList<>();
    boolean video = false;
    JsonNode image = row.get("image");
    if (image != null && !image.isNull()) {
      if (image.isArray()) {
        for (JsonNode p : image) {
          images.add(ctx.imageFromRef(p.asText()));
        }
      } else {
        images.add(ctx.imageFromRef(image.asText()));
      }
    } else if (row.hasNonNull("video")) {
      images.addAll(VideoFrames.sample(row.get("video").asText(), ctx));
      video = true;
    }

    List<SampleItem> items = new ArrayList<>();
    boolean videoPlaced = !video;
    int placed = 0;
    boolean anyLoss = false;
    for (JsonNode turn : conversations) {
      String from = turn.path("from").asText("");
      JsonNode valueNode = turn.get("value");
      if (valueNode == null || !valueNode.isTextual()) {
        throw new SkipException(SkipReason.MALFORMED_JSON, "turn without a text 'value'");
      }
      String value = valueNode.textValue();
      switch (from) {
        case "human", "user" -> {
          if (!videoPlaced && value.contains(VIDEO)) {
            value = value.replaceFirst(java.util.regex.Pattern.quote(VIDEO), IMAGE.repeat(images.size()));
            videoPlaced = true;
          }
          String[] parts = value.split(java.util.regex.Pattern.quote(IMAGE), -1);
          for (int i = 0; i < parts.length; i++) {
            String text = parts[i].strip();
            if (!text.isEmpty()) {
              items.add(new SampleItem.Text(text, false, false));
            }
            if (i < parts.length - 1 && placed < images.size()) {
              items.add(new SampleItem.Image(images.get(placed++), true, false, false));
            }
          }
        }
        case "gpt", "assistant" -> {
          items.add(new SampleItem.Text(value, true, false));
          anyLoss = true;
        }
        case "system" -> items.add(new SampleItem.Text(value, false, false));
        default -> throw new SkipException(SkipReason.UNKNOWN_CONTENT_TYPE, "unknown turn role '" + from + "'");
      }
    }
    if (!videoPlaced) {
      throw new SkipException(SkipReason.MEDIA_MISMATCH, "video record without a <video> marker in a human turn");
    }
    if (!anyLoss) {
      throw new SkipException(SkipReason.NO_LOSS, "no gpt turn");
    }
    return items;
  }
}
