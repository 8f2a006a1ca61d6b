package ai.bakery.data.group;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The reference's dataset YAML: a map of group name to {@link DatasetGroup}, in file order. One optional
 * top-level key is ours: {@code dataset_info}, the path (relative to the YAML) of the dataset-info registry.
 *
 * @param groups the groups in file order
 * @param datasetInfo the registry named in the YAML, or null
 */
public record DatasetGroups(List<DatasetGroup> groups, Path datasetInfo) {
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

  public DatasetGroups {
    groups = List.copyOf(groups);
    if (groups.isEmpty()) {
      throw new IllegalArgumentException("the dataset yaml defines no groups");
    }
  }

  /** Reads a dataset YAML file; errors name the file, the group and the key. */
  public static DatasetGroups load(Path yaml) throws IOException {
    if (!Files.isRegularFile(yaml)) {
      throw new java.nio.file.NoSuchFileException(yaml.toString(), null, "dataset yaml not found");
    }
    return parse(Files.readString(yaml), yaml.toString(), yaml.toAbsolutePath().getParent());
  }

  /**
   * @param where the file name for messages
   * @param base where a relative {@code dataset_info} path resolves
   */
  public static DatasetGroups parse(String yamlText, String where, Path base) {
    JsonNode root;
    try {
      root = YAML.readTree(yamlText);
    } catch (IOException e) {
      throw new IllegalArgumentException(where + ": not valid YAML: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(where + ": expected a map of dataset group name to group settings");
    }
    List<DatasetGroup> groups = new ArrayList<>();
    Path info = null;
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("dataset_info")) {
        if (!e.getValue().isTextual()) {
          throw new IllegalArgumentException(where + ": dataset_info must be a path to the dataset-info registry");
        }
        info = base.resolve(e.getValue().asText()).normalize();
        continue;
      }
      groups.add(bindGroup(e.getKey(), e.getValue(), where));
    }
    if (groups.isEmpty()) {
      throw new IllegalArgumentException(where + ": defines no dataset groups");
    }
    return new DatasetGroups(groups, info);
  }

  private static DatasetGroup bindGroup(String name, JsonNode node, String where) {
    String at = where + ": group " + name;
    if (!node.isObject()) {
      throw new IllegalArgumentException(at + ": expected a map of settings");
    }
    ObjectNode withName = ((ObjectNode) node).deepCopy();
    withName.put("name", name);
    try {
      return YAML.treeToValue(withName, DatasetGroup.class);
    } catch (UnrecognizedPropertyException e) {
      throw new IllegalArgumentException(at + ": unknown key '" + path(e) + "'", e);
    } catch (com.fasterxml.jackson.databind.JsonMappingException e) {
      if (e.getCause() instanceof IllegalArgumentException iae) {
        throw new IllegalArgumentException(at + ": " + iae.getMessage(), e);
      }
      throw new IllegalArgumentException(at + ": " + path(e) + ": " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new IllegalArgumentException(at + ": " + e.getMessage(), e);
    }
  }

  private static String path(com.fasterxml.jackson.databind.JsonMappingException e) {
    StringBuilder b = new StringBuilder();
    for (var ref : e.getPath()) {
      if (ref.getFieldName() != null) {
        b.append(b.length() == 0 ? "" : ".").append(ref.getFieldName());
      } else if (ref.getIndex() >= 0) {
        b.append('[').append(ref.getIndex()).append(']');
      }
    }
    return b.toString();
  }

  /** The group with this name. */
  public DatasetGroup group(String name) {
    for (DatasetGroup g : groups) {
      if (g.name().equals(name)) {
        return g;
      }
    }
    throw new IllegalArgumentException("no dataset group " + name);
  }
}
