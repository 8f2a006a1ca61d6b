package ai.bakery.data.group;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The dataset-info registry, as data: a YAML or JSON file mapping group type, then dataset name, to a
 * {@link DatasetInfo} (the reference keeps this table in code, {@code data/dataset_info.py}). Relative paths
 * resolve against the file's folder.
 */
public final class DatasetInfoRegistry {
  private final Map<String, Map<String, DatasetInfo>> entries;
  private final String where;

  private DatasetInfoRegistry(Map<String, Map<String, DatasetInfo>> entries, String where) {
    this.entries = entries;
    this.where = where;
  }

  public static DatasetInfoRegistry load(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "dataset-info registry not found");
    }
    return parse(Files.readString(file), file.toString(), file.toAbsolutePath().getParent());
  }

  /** Parses registry text (YAML or JSON); relative paths resolve against {@code base}. */
  public static DatasetInfoRegistry parse(String text, String where, Path base) {
    JsonNode root;
    try {
      root = DatasetGroups.YAML.readTree(text);
    } catch (IOException e) {
      throw new IllegalArgumentException(where + ": not valid YAML/JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(where + ": expected a map of group type to datasets");
    }
    Map<String, Map<String, DatasetInfo>> entries = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> g = root.fields(); g.hasNext(); ) {
      Map.Entry<String, JsonNode> group = g.next();
      if (!group.getValue().isObject()) {
        throw new IllegalArgumentException(where + ": " + group.getKey() + " must map dataset names to entries");
      }
      Map<String, DatasetInfo> datasets = new LinkedHashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> d = group.getValue().fields(); d.hasNext(); ) {
        Map.Entry<String, JsonNode> ds = d.next();
        String at = where + ": " + group.getKey() + "." + ds.getKey();
        try {
          DatasetInfo info = DatasetGroups.YAML.treeToValue(ds.getValue(), DatasetInfo.class);
          if (info.dataDir() == null && info.jsonlPath() == null) {
            throw new IllegalArgumentException(at + ": needs data_dir or jsonl_path");
          }
          datasets.put(ds.getKey(), info.resolvedAgainst(base));
        } catch (UnrecognizedPropertyException e) {
          throw new IllegalArgumentException(at + ": unknown key '" + e.getPropertyName() + "'", e);
        } catch (IOException e) {
          String msg = e.getCause() instanceof IllegalArgumentException iae ? iae.getMessage() : e.getMessage();
          throw new IllegalArgumentException(at + ": " + msg, e);
        }
      }
      entries.put(group.getKey(), datasets);
    }
    return new DatasetInfoRegistry(entries, where);
  }

  /** The entry of a dataset of a group type; the error lists what the registry has. */
  public DatasetInfo lookup(String groupType, String datasetName) {
    Map<String, DatasetInfo> group = entries.get(groupType);
    if (group == null) {
      throw new IllegalArgumentException(where + " has no group type '" + groupType + "' (it has "
          + entries.keySet() + ")");
    }
    DatasetInfo info = group.get(datasetName);
    if (info == null) {
      throw new IllegalArgumentException(where + " has no dataset '" + datasetName + "' under " + groupType
          + " (it has " + group.keySet() + ")");
    }
    return info;
  }
}
