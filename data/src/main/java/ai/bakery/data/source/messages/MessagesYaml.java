package ai.bakery.data.source.messages;

import ai.bakery.data.source.DatasetFormat;
import ai.bakery.data.source.DatasetFormats;
import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.ReadOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * LMMS Engine's yaml dataset list: a list (or a {@code datasets:} key holding one) of entries
 * {@code {path, data_folder, data_type}}. Each entry becomes one messages dataset; relative paths resolve
 * against the yaml's folder; {@code data_type} defaults to the path's extension.
 */
public final class MessagesYaml {
  /** One listed dataset and the format to read it with. */
  public record Entry(DatasetSource source, DatasetFormat format) {}

  private MessagesYaml() {}

  public static List<Entry> read(Path yaml, ReadOptions options) throws IOException {
    JsonNode root;
    try {
      root = new ObjectMapper(new YAMLFactory()).readTree(yaml.toFile());
    } catch (IOException e) {
      throw new IOException("cannot parse dataset yaml " + yaml + ": " + e.getMessage(), e);
    }
    return entries(root, yaml.toAbsolutePath().getParent(), yaml.toString(), options);
  }

  /** Entries of an inline {@code datasets} list (LMMS Engine's {@code dataset_config.datasets}). */
  public static List<Entry> entries(JsonNode root, Path base, String where, ReadOptions options)
      throws IOException {
    JsonNode list = root != null && root.isObject() ? root.get("datasets") : root;
    if (list == null || !list.isArray()) {
      throw new IOException(where + ": expected a list of datasets (or a 'datasets:' key holding one)");
    }
    List<Entry> out = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (int i = 0; i < list.size(); i++) {
      JsonNode e = list.get(i);
      String p = e.path("path").asText("");
      if (p.isBlank()) {
        throw new IOException(where + ": datasets[" + i + "].path is missing");
      }
      Path path = base.resolve(p).normalize();
      String folder = e.path("data_folder").asText("");
      Path dataRoot = folder.isBlank() ? null : base.resolve(folder).normalize();
      String type = e.path("data_type").asText("");
      DatasetFormat format;
      try {
        format = DatasetFormats.messages(type.isBlank() ? null : type);
      } catch (IllegalArgumentException ex) {
        throw new IOException(where + ": datasets[" + i + "].data_type: " + ex.getMessage(), ex);
      }
      String name = path.getFileName().toString();
      if (!names.add(name)) {
        name = name + "-" + i;
        names.add(name);
      }
      out.add(new Entry(new DatasetSource(name, path, dataRoot, options), format));
    }
    return out;
  }
}
