package ai.bakery.data.source;

import ai.bakery.data.source.edit.EditRowMapper;
import ai.bakery.data.source.messages.MessagesRowMapper;
import ai.bakery.data.source.records.RecordContainer;
import ai.bakery.data.source.t2i.T2iRowMapper;
import ai.bakery.data.source.vlm.VlmRowMapper;

/** The dataset formats, by the reference's group names. */
public final class DatasetFormats {
  /** {@code t2i_pretrain}: parquet with {@code image} bytes and {@code captions} JSON. */
  public static final DatasetFormat T2I =
      new RecordFormat("t2i_pretrain", s -> RecordContainer.PARQUET, new T2iRowMapper(), false);
  /** {@code unified_edit}: parquet with {@code image_list} and {@code instruction_list}. */
  public static final DatasetFormat EDIT =
      new RecordFormat("unified_edit", s -> RecordContainer.PARQUET, new EditRowMapper(), false);
  /** {@code vlm_sft}: LLaVA-style JSONL with image / video paths under the data root. */
  public static final DatasetFormat VLM =
      new RecordFormat("vlm_sft", s -> RecordContainer.JSONL, new VlmRowMapper(), true);
  /** LMMS Engine {@code messages}, container told by the file extension (or a directory of parquet). */
  public static final DatasetFormat MESSAGES = messages(null);

  private DatasetFormats() {}

  /** LMMS Engine {@code messages} stored as {@code dataType} (parquet, jsonl, json, arrow), or by extension. */
  public static DatasetFormat messages(String dataType) {
    RecordContainer fixed = dataType == null || dataType.isBlank() ? null : RecordContainer.fromName(dataType);
    return new RecordFormat("messages", s -> fixed != null ? fixed : containerOf(s), new MessagesRowMapper(), true);
  }

  private static RecordContainer containerOf(DatasetSource s) {
    if (java.nio.file.Files.isDirectory(s.path())) {
      try (var files = java.nio.file.Files.list(s.path())) {
        return files.anyMatch(p -> p.toString().endsWith(".arrow")) ? RecordContainer.ARROW
            : RecordContainer.PARQUET;
      } catch (java.io.IOException e) {
        return RecordContainer.PARQUET;
      }
    }
    return RecordContainer.fromPath(s.path());
  }

  /**
   * The format of a dataset group type: {@code t2i_pretrain}, {@code unified_edit}, {@code vlm_sft}, or
   * {@code messages} (also {@code lmms}).
   */
  public static DatasetFormat forGroupType(String type) {
    return switch (type) {
      case "t2i_pretrain", "t2i" -> T2I;
      case "unified_edit", "edit" -> EDIT;
      case "vlm_sft", "vlm" -> VLM;
      case "messages", "lmms" -> MESSAGES;
      default -> throw new IllegalArgumentException("unknown dataset type '" + type
          + "' (expected t2i_pretrain, unified_edit, vlm_sft or messages)");
    };
  }
}
