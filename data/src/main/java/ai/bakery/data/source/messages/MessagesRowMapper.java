package ai.bakery.data.source.messages;

import ai.bakery.data.sample.ImageSource;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.RowContext;
import ai.bakery.data.source.RowMapper;
import ai.bakery.data.source.SkipException;
import ai.bakery.data.source.SkipReason;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * An LMMS Engine record: {@code messages}, a list of {@code {role, content}} with roles system / user /
 * assistant and content either a string or items {@code {type: text, text}}, {@code {type: image_url,
 * image_url: {url}}}, {@code {type: video_url, video_url: {url}}} (also {@code {type: image, image}} and
 * {@code {type: video, video}}). As LMMS Engine's BAGEL processor reads it: user images feed the ViT and, when
 * the conversation generates an image, are also clean VAE conditions; assistant images are noised VAE
 * targets; only assistant text carries CE loss; user text is CFG-droppable when an image is generated. A
 * video's sampled frames become ViT images. {@code data:} URLs carry their image inline.
 */
public final class MessagesRowMapper implements RowMapper {

  @Override
  public List<SampleItem> map(JsonNode row, RowContext ctx) throws SkipException {
    JsonNode messages = row.get("messages");
    if (messages != null && messages.isTextual()) {
      try {
        messages = new com.fasterxml.jackson.databind.ObjectMapper().readTree(messages.textValue());
      } catch (java.io.IOException e) {
        throw new SkipException(SkipReason.MALFORMED_JSON, "messages string is not JSON");
      }
    }
    if (messages == null || !messages.isArray() || messages.isEmpty()) {
      throw new SkipException(SkipReason.MALFORMED_JSON, "no 'messages' list");
    }
    boolean generates = false;
    for (JsonNode m : messages) {
      if ("assistant".equals(m.path("role").asText()) && m.path("content").isArray()) {
        for (JsonNode c : m.path("content")) {
          generates |= isImage(c.path("type").asText());
        }
      }
    }

    List<SampleItem> items = new ArrayList<>();
    boolean anyLoss = false;
    for (JsonNode m : messages) {
      String role = m.path("role").asText("");
      if (!role.equals("system") && !role.equals("user") && !role.equals("assistant")) {
        throw new SkipException(SkipReason.UNKNOWN_CONTENT_TYPE, "unknown message role '" + role + "'");
      }
      boolean assistant = role.equals("assistant");
      JsonNode content = m.get("content");
      if (content == null || content.isNull()) {
        continue;
      }
      if (content.isTextual()) {
        anyLoss |= addText(items, content.textValue(), role, generates);
        continue;
      }
      if (!content.isArray()) {
        throw new SkipException(SkipReason.MALFORMED_JSON, "content is neither a string nor a list");
      }
      for (JsonNode c : content) {
        String type = c.path("type").asText("");
        if (type.equals("text")) {
          anyLoss |= addText(items, c.path("text").asText(""), role, generates);
        } else if (isImage(type)) {
          ImageSource image = image(url(c, type), ctx);
          if (assistant) {
            items.add(new SampleItem.Image(image, false, false, true));
            anyLoss = true;
          } else {
            items.add(new SampleItem.Image(image, true, generates, false));
          }
        } else if (type.equals("video_url") || type.equals("video")) {
          if (assistant) {
            throw new SkipException(SkipReason.UNKNOWN_CONTENT_TYPE, "video as an assistant (generated) item");
          }
          for (ImageSource frame : ai.bakery.data.source.vlm.VideoFrames.sample(url(c, type), ctx)) {
            items.add(new SampleItem.Image(frame, true, false, false));
          }
        } else {
          throw new SkipException(SkipReason.UNKNOWN_CONTENT_TYPE, "unknown content type '" + type + "'");
        }
      }
    }
    if (!anyLoss) {
      throw new SkipException(SkipReason.NO_LOSS, "no assistant text or image");
    }
    return items;
  }

  private static boolean isImage(String type) {
    return type.equals("image_url") || type.equals("image");
  }

  /** Returns whether the text carries loss. Empty text is dropped. */
  private static boolean addText(List<SampleItem> items, String text, String role, boolean generates) {
    if (text.isEmpty()) {
      return false;
    }
    boolean loss = role.equals("assistant");
    items.add(new SampleItem.Text(text, loss, role.equals("user") && generates));
    return loss;
  }

  /** {@code {type: image_url, image_url: {url}}}, {@code image_url: "..."}, or {@code {type: image, image}}. */
  private static String url(JsonNode item, String type) throws SkipException {
    JsonNode v = item.get(type);
    if (v != null && v.isObject()) {
      v = v.get("url");
    }
    if ((v == null || v.isNull()) && item.hasNonNull("url")) {
      v = item.get("url");
    }
    if (v == null || !v.isTextual() || v.textValue().isBlank()) {
      throw new SkipException(SkipReason.MALFORMED_JSON, type + " item without a url");
    }
    return v.textValue();
  }

  private static ImageSource image(String url, RowContext ctx) throws SkipException {
    if (url.startsWith("data:")) {
      int comma = url.indexOf(',');
      if (comma < 0 || !url.substring(0, comma).endsWith(";base64")) {
        throw new SkipException(SkipReason.CORRUPT_IMAGE, "data url is not base64");
      }
      byte[] bytes;
      try {
        bytes = Base64.getDecoder().decode(url.substring(comma + 1));
      } catch (IllegalArgumentException e) {
        throw new SkipException(SkipReason.CORRUPT_IMAGE, "data url has invalid base64");
      }
      return ctx.imageFromBytes(bytes, "data url");
    }
    return ctx.imageFromRef(url);
  }
}
