package ai.bakery.data.source.t2i;

import ai.bakery.data.sample.ImageSource;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.RowContext;
import ai.bakery.data.source.RowMapper;
import ai.bakery.data.source.SkipException;
import ai.bakery.data.source.SkipReason;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A text-to-image parquet row: {@code image} (encoded bytes) and {@code captions} (a JSON object of named
 * captions). One caption is drawn with the row's generator; the sample is the caption (dropped by CFG text
 * dropout, no loss) followed by the image as a noised VAE target. A row without captions gets a single
 * space, as the reference does.
 */
public final class T2iRowMapper implements RowMapper {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public List<SampleItem> map(JsonNode row, RowContext ctx) throws SkipException {
    JsonNode imageCell = row.get("image");
    if (imageCell == null || !imageCell.isBinary()) {
      throw new SkipException(SkipReason.CORRUPT_ROW, "no binary 'image' column");
    }
    byte[] bytes;
    try {
      bytes = imageCell.binaryValue();
    } catch (IOException e) {
      throw new SkipException(SkipReason.CORRUPT_ROW, "unreadable 'image' cell");
    }
    ImageSource image = ctx.imageFromBytes(bytes, "image");

    List<String> captions = captions(row.get("captions"));
    String caption = captions.isEmpty() ? " " : captions.get(ctx.random().nextInt(captions.size()));
    return List.of(new SampleItem.Text(caption, false, true), new SampleItem.Image(image, false, false, true));
  }

  private static List<String> captions(JsonNode cell) throws SkipException {
    if (cell == null || cell.isNull()) {
      throw new SkipException(SkipReason.MALFORMED_JSON, "no 'captions' column");
    }
    JsonNode dict;
    if (cell.isTextual()) {
      try {
        dict = JSON.readTree(cell.textValue());
      } catch (IOException e) {
        throw new SkipException(SkipReason.MALFORMED_JSON, "captions is not JSON");
      }
    } else {
      dict = cell;
    }
    if (dict == null || !dict.isObject()) {
      throw new SkipException(SkipReason.MALFORMED_JSON, "captions is not a JSON object");
    }
    List<String> out = new ArrayList<>();
    dict.fields().forEachRemaining(e -> out.add(e.getValue().isTextual() ? e.getValue().textValue()
        : e.getValue().toString()));
    return out;
  }
}
