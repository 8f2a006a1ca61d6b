package ai.bakery.data.source;

import ai.bakery.data.sample.SampleItem;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/** Maps one record of a format onto sample items, or says why it cannot. */
@FunctionalInterface
public interface RowMapper {
  List<SampleItem> map(JsonNode row, RowContext ctx) throws SkipException;
}
