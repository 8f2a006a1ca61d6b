package ai.bakery.data.source;

/** Why an example (or a whole unit) was skipped instead of trained on. Counted by {@link SkipCounter}. */
public enum SkipReason {
  /** Image bytes that no decoder accepts, or a truncated file. */
  CORRUPT_IMAGE,
  /** An image or video path that does not exist under the data root. */
  MISSING_IMAGE,
  /** A JSON / JSONL record that does not parse or lacks a required field. */
  MALFORMED_JSON,
  /** A content item whose {@code type} (or a turn whose role) the format does not know. */
  UNKNOWN_CONTENT_TYPE,
  /** A sample whose token count exceeds {@code max_num_tokens_per_sample}. */
  TOO_MANY_TOKENS,
  /** A VAE image whose latent grid exceeds {@code max_latent_size}. */
  LATENT_TOO_LARGE,
  /** A ViT image whose patch grid exceeds {@code vit_max_num_patch_per_side}. */
  VIT_GRID_TOO_LARGE,
  /** A relative path that escapes the data root ({@code ..}, absolute, or through a symlink). */
  PATH_OUTSIDE_DATA_ROOT,
  /** An http(s) URL while {@code allow_urls} is off. */
  URL_NOT_ALLOWED,
  /** A parquet / arrow row (or row group) the reader cannot decode, or a cell of the wrong type. */
  CORRUPT_ROW,
  /** A video that cannot be opened or yields no frames. */
  CORRUPT_VIDEO,
  /** A record with nothing to learn from (no CE and no MSE target), as the reference skips them. */
  NO_LOSS,
  /** A record whose {@code <image>} / {@code <video>} markers do not match its media list. */
  MEDIA_MISMATCH
}
