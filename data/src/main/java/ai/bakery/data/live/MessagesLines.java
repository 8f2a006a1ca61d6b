package ai.bakery.data.live;

import ai.bakery.data.sample.Sample;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.MediaResolver;
import ai.bakery.data.source.RowContext;
import ai.bakery.data.source.RowRandom;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipException;
import ai.bakery.data.source.SkipReason;
import ai.bakery.data.source.messages.MessagesRowMapper;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.List;

/**
 * Maps one {@code messages}-format JSON line of a live source onto a {@link Sample}, as the file readers do:
 * a line that does not parse, or that the mapper rejects, is counted in the {@link SkipCounter} and gives none.
 */
final class MessagesLines {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final MessagesRowMapper mapper = new MessagesRowMapper();
  private final DatasetSource dataset;
  private final MediaResolver media;

  /** @param dataset names the samples and gives the seed and media folder */
  MessagesLines(DatasetSource dataset) {
    this.dataset = dataset;
    try {
      this.media = dataset.dataRoot() == null ? null
          : new MediaResolver(dataset.dataRoot(), dataset.options().allowUrls());
    } catch (IOException e) {
      throw new IllegalArgumentException("live dataset " + dataset.name() + ": media folder " + dataset.dataRoot()
          + " cannot be used: " + e.getMessage(), e);
    }
  }

  /** The sample of {@code line}, or null (counted in {@code skips}) when it is bad input. */
  Sample map(String line, String key, SkipCounter skips) {
    if (line == null) {
      skips.skip(SkipReason.MALFORMED_JSON, key, "line longer than " + JsonLineReader.MAX_LINE_BYTES + " bytes");
      return null;
    }
    if (line.isBlank()) {
      return null; // blank lines separate nothing and carry nothing
    }
    JsonNode node;
    try {
      node = JSON.readTree(line);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      skips.skip(SkipReason.MALFORMED_JSON, key, "not JSON: " + e.getOriginalMessage());
      return null;
    }
    if (node == null || !node.isObject()) {
      skips.skip(SkipReason.MALFORMED_JSON, key, "not a JSON object");
      return null;
    }
    try {
      RowContext ctx = new RowContext(key, dataset, RowRandom.of(dataset.options().seed(), key), media);
      List<SampleItem> items = mapper.map(node, ctx);
      return new Sample(key, dataset.name(), items);
    } catch (SkipException e) {
      skips.skip(e.reason(), key, e.getMessage());
    } catch (RuntimeException e) {
      skips.skip(SkipReason.MALFORMED_JSON, key, "unexpected record shape: " + e);
    }
    return null;
  }

  String datasetName() {
    return dataset.name();
  }
}
