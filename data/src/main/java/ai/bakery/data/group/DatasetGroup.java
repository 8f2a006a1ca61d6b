package ai.bakery.data.group;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * One dataset group of the reference's dataset YAML ({@code data/configs/example.yaml}), with the keys
 * {@code PackedDataset.build_datasets} and the dataset classes read.
 *
 * @param name the group's key in the YAML
 * @param type the group type naming the reader: t2i_pretrain | unified_edit | vlm_sft | messages; the reference
 *     uses the group's name for this, so it defaults to the name
 * @param datasetNames datasets of the group, looked up in the dataset-info registry under the group's type
 * @param numUsedData per dataset: parquet files (t2i, edit) or records (vlm, messages) to use; null = all
 * @param weight share of samples drawn from this group (relative to the other groups)
 * @param isMandatory contributes one sample to every pack
 * @param shuffleLines shuffle a JSONL dataset's records (by shard unit here) with {@code shuffle_seed} before
 *     taking {@code num_used_data}
 * @param shuffleSeed seed of that shuffle
 * @param resumeDataStatus restore this group's position when resuming (false restarts it)
 * @param imageTransformArgs the VAE transform (the ViT transform too for groups without
 *     {@code vit_image_transform_args}, as VLM groups)
 * @param vitImageTransformArgs the ViT transform of groups that feed an image to both
 * @param frameSamplerArgs video frame sampling
 * @param source a live source ({@code source: {type: directory|http, ...}}) instead of {@code dataset_names};
 *     null for a static group
 */
public record DatasetGroup(
    String name,
    String type,
    List<String> datasetNames,
    List<Long> numUsedData,
    double weight,
    boolean isMandatory,
    boolean shuffleLines,
    long shuffleSeed,
    boolean resumeDataStatus,
    TransformArgs imageTransformArgs,
    TransformArgs vitImageTransformArgs,
    FrameSamplerArgs frameSamplerArgs,
    ai.bakery.data.live.LiveSourceConfig source) {

  public DatasetGroup {
    String where = "dataset group " + name;
    if (source != null) {
      if (datasetNames != null && !datasetNames.isEmpty() || numUsedData != null) {
        throw new IllegalArgumentException(where + ": a live group (source:) takes no dataset_names or"
            + " num_used_data");
      }
      datasetNames = List.of();
    } else if (datasetNames == null || datasetNames.isEmpty()) {
      throw new IllegalArgumentException(where + ": dataset_names is missing or empty");
    }
    datasetNames = List.copyOf(datasetNames);
    if (numUsedData != null) {
      numUsedData = List.copyOf(numUsedData);
      if (numUsedData.size() != datasetNames.size()) {
        throw new IllegalArgumentException(where + ": num_used_data has " + numUsedData.size()
            + " entries for " + datasetNames.size() + " dataset_names");
      }
      for (long n : numUsedData) {
        if (n <= 0) {
          throw new IllegalArgumentException(where + ": num_used_data entries must be positive, got " + n);
        }
      }
    }
    if (!(weight >= 0) || Double.isInfinite(weight)) {
      throw new IllegalArgumentException(where + ": weight must be a finite number >= 0, got " + weight);
    }
    if (imageTransformArgs == null) {
      throw new IllegalArgumentException(where + ": image_transform_args is missing");
    }
  }

  /** Jackson entry point; {@code name} is filled in from the group's key by {@link DatasetGroups}. */
  @JsonCreator
  static DatasetGroup bind(
      @JsonProperty("name") String name,
      @JsonProperty("type") String type,
      @JsonProperty("dataset_names") List<String> datasetNames,
      @JsonProperty("num_used_data") List<Long> numUsedData,
      @JsonProperty("weight") Double weight,
      @JsonProperty("is_mandatory") Boolean isMandatory,
      @JsonProperty("shuffle_lines") Boolean shuffleLines,
      @JsonProperty("shuffle_seed") Long shuffleSeed,
      @JsonProperty("resume_data_status") Boolean resumeDataStatus,
      @JsonProperty("image_transform_args") TransformArgs imageTransformArgs,
      @JsonProperty("vit_image_transform_args") TransformArgs vitImageTransformArgs,
      @JsonProperty("frame_sampler_args") FrameSamplerArgs frameSamplerArgs,
      @JsonProperty("source") ai.bakery.data.live.LiveSourceConfig source) {
    // a live group reads messages records; a static one's type defaults to its name, as in the reference
    String groupType = type != null ? type : source != null ? "messages" : name;
    return new DatasetGroup(name, groupType, datasetNames, numUsedData,
        weight == null ? 0.0 : weight, // the reference's default weight
        Boolean.TRUE.equals(isMandatory), Boolean.TRUE.equals(shuffleLines), shuffleSeed == null ? 0 : shuffleSeed,
        resumeDataStatus == null || resumeDataStatus, imageTransformArgs, vitImageTransformArgs, frameSamplerArgs,
        source);
  }

  /** Whether the group reads a live source. */
  public boolean isLive() {
    return source != null;
  }

  /** The transform of images the ViT sees. */
  public TransformArgs vitTransform() {
    return vitImageTransformArgs != null ? vitImageTransformArgs : imageTransformArgs;
  }
}
