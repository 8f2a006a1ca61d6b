package ai.bakery.data.live;

import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.ReadOptions;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A dataset group's {@code source:} in the dataset YAML, which makes it a live group of {@code messages}
 * records. Relative paths resolve in the working directory.
 *
 * <pre>
 * live_chat:
 *   weight: 0.5
 *   image_transform_args: {image_stride: 14, max_image_size: 980, min_image_size: 224}
 *   source: {type: directory, path: /data/incoming, data_folder: /data/images}
 * posted:
 *   weight: 0.5
 *   image_transform_args: {image_stride: 14, max_image_size: 980, min_image_size: 224}
 *   source: {type: http, log: /ckpt/ingest.jsonl, host: 127.0.0.1, port: 8470, max_pending: 10000}
 * stream:
 *   weight: 1
 *   image_transform_args: {image_stride: 16, max_image_size: 1024, min_image_size: 512}
 *   source: {type: kafka, bootstrap_servers: 'broker:9092', topic: samples}
 * </pre>
 *
 * @param type directory | http | kafka
 * @param path directory: the watched folder
 * @param dataFolder where image paths in records resolve (optional)
 * @param pollMs how often the stream looks for new data
 * @param rescanMs directory: how often the whole folder is listed again
 * @param batch most records read per poll
 * @param buffer records buffered between the stream and the packer
 * @param log http: the durable log file (also the replay log)
 * @param host http: address to bind (default 127.0.0.1)
 * @param port http: port to bind (0 = any free one)
 * @param tokenFile http: file holding the bearer token
 * @param tokenEnv http: environment variable holding the bearer token
 * @param maxPending http: lines logged but not yet read before requests get 429
 * @param retryAfterS http: Retry-After of a 429, seconds
 * @param bootstrapServers kafka: the brokers
 * @param topic kafka: the topic
 * @param groupId kafka: the consumer group id (nothing is committed; offsets live in checkpoints)
 */
public record LiveSourceConfig(String type, String path, String dataFolder, long pollMs, long rescanMs, int batch,
    int buffer, String log, String host, int port, String tokenFile, String tokenEnv, int maxPending,
    int retryAfterS, String bootstrapServers, String topic, String groupId) {

  public LiveSourceConfig {
    if (type == null || !(type.equals("directory") || type.equals("http") || type.equals("kafka"))) {
      throw new IllegalArgumentException("source.type must be directory, http or kafka, got " + type);
    }
    if (type.equals("kafka") && (bootstrapServers == null || bootstrapServers.isBlank())) {
      throw new IllegalArgumentException("source.bootstrap_servers is required for a kafka source");
    }
    if (type.equals("kafka") && (topic == null || topic.isBlank())) {
      throw new IllegalArgumentException("source.topic is required for a kafka source");
    }
    if (type.equals("directory") && (path == null || path.isBlank())) {
      throw new IllegalArgumentException("source.path is required for a directory source");
    }
    if (type.equals("http") && (log == null || log.isBlank())) {
      throw new IllegalArgumentException("source.log is required for an http source (the durable ingest log)");
    }
    if (pollMs < 1) {
      throw new IllegalArgumentException("source.poll_ms must be >= 1, got " + pollMs);
    }
    if (rescanMs < pollMs) {
      throw new IllegalArgumentException("source.rescan_ms must be >= poll_ms, got " + rescanMs);
    }
    if (batch < 1) {
      throw new IllegalArgumentException("source.batch must be >= 1, got " + batch);
    }
    if (buffer < 1) {
      throw new IllegalArgumentException("source.buffer must be >= 1, got " + buffer);
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("source.port must be in [0, 65535], got " + port);
    }
    if (maxPending < 1) {
      throw new IllegalArgumentException("source.max_pending must be >= 1, got " + maxPending);
    }
    if (type.equals("http") && tokenFile == null && tokenEnv == null && !HttpIngest.isLoopback(host)) {
      throw new IllegalArgumentException("source.token_file or source.token_env is required when source.host ("
          + host + ") is not loopback");
    }
    if (tokenFile != null && tokenEnv != null) {
      throw new IllegalArgumentException("source: give token_file or token_env, not both");
    }
  }

  @JsonCreator
  static LiveSourceConfig bind(
      @JsonProperty("type") String type,
      @JsonProperty("path") String path,
      @JsonProperty("data_folder") String dataFolder,
      @JsonProperty("poll_ms") Long pollMs,
      @JsonProperty("rescan_ms") Long rescanMs,
      @JsonProperty("batch") Integer batch,
      @JsonProperty("buffer") Integer buffer,
      @JsonProperty("log") String log,
      @JsonProperty("host") String host,
      @JsonProperty("port") Integer port,
      @JsonProperty("token_file") String tokenFile,
      @JsonProperty("token_env") String tokenEnv,
      @JsonProperty("max_pending") Integer maxPending,
      @JsonProperty("retry_after_s") Integer retryAfterS,
      @JsonProperty("bootstrap_servers") String bootstrapServers,
      @JsonProperty("topic") String topic,
      @JsonProperty("group_id") String groupId) {
    return new LiveSourceConfig(type, path, dataFolder, pollMs == null ? 50 : pollMs,
        rescanMs == null ? 1000 : rescanMs, batch == null ? 256 : batch,
        buffer == null ? LiveSpec.DEFAULT_BUFFER : buffer, log, host == null ? "127.0.0.1" : host,
        port == null ? 8470 : port, tokenFile, tokenEnv, maxPending == null ? 10_000 : maxPending,
        retryAfterS == null ? 1 : retryAfterS, bootstrapServers, topic, groupId);
  }

  /** The group's live spec: its source is created when a loader worker opens the group. */
  public LiveSpec spec(String group, ReadOptions options) {
    Path media = dataFolder == null ? null : Path.of(dataFolder);
    String at = "dataset group " + group + ": source";
    return new LiveSpec(() -> switch (type) {
      case "directory" -> new DirectorySource(new DatasetSource(group, Path.of(path), media, options),
          Duration.ofMillis(pollMs), Duration.ofMillis(rescanMs), batch);
      case "http" -> new HttpIngest(new DatasetSource(group, Path.of(log), media, options), host, port,
          token(at), maxPending, retryAfterS, Duration.ofMillis(pollMs), batch);
      case "kafka" -> new KafkaSource(new DatasetSource(group, Path.of(topic), media, options), bootstrapServers,
          topic, groupId, Duration.ofSeconds(30));
      default -> throw new IllegalStateException(at + ".type " + type);
    }, buffer);
  }

  private String token(String at) {
    if (tokenEnv != null) {
      String t = System.getenv(tokenEnv);
      if (t == null || t.isBlank()) {
        throw new IllegalArgumentException(at + ".token_env: environment variable " + tokenEnv + " is not set");
      }
      return t.strip();
    }
    if (tokenFile != null) {
      try {
        String t = Files.readString(Path.of(tokenFile)).strip();
        if (t.isEmpty()) {
          throw new IllegalArgumentException(at + ".token_file " + tokenFile + " is empty");
        }
        return t;
      } catch (IOException e) {
        throw new UncheckedIOException(at + ".token_file " + tokenFile + " cannot be read", e);
      }
    }
    return null;
  }
}
