package ai.bakery.data.live;

import ai.bakery.data.sample.Sample;
import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.SkipCounter;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.kafka.ConsumerSettings;
import org.apache.pekko.kafka.Subscriptions;
import org.apache.pekko.kafka.javadsl.Consumer;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kafka topic of {@code messages}-format JSON values (Pekko Connectors Kafka plain consumer). Offsets are
 * never committed to Kafka: each partition is assigned at the offset saved in the checkpoint's
 * {@link LivePosition} (key {@code topic-partition}), so a restart resumes exactly after the last trained
 * record whatever the consumer group's committed offsets say. The partitions are those of the topic when the
 * source opens; a partition never seen starts at its earliest record.
 */
public final class KafkaSource implements LiveSource {
  private static final Logger LOG = LoggerFactory.getLogger(KafkaSource.class);

  private final DatasetSource dataset;
  private final String bootstrapServers;
  private final String topic;
  private final String groupId;
  private final Duration metadataTimeout;

  /**
   * @param dataset its name prefixes sample keys; {@code dataRoot} is the media folder ({@code path} unused)
   * @param groupId the consumer's group id (used for quotas and monitoring only: nothing is committed)
   */
  public KafkaSource(DatasetSource dataset, String bootstrapServers, String topic, String groupId,
      Duration metadataTimeout) {
    if (bootstrapServers == null || bootstrapServers.isBlank()) {
      throw new IllegalArgumentException("live kafka source " + dataset.name() + ": bootstrap_servers is required");
    }
    if (topic == null || topic.isBlank()) {
      throw new IllegalArgumentException("live kafka source " + dataset.name() + ": topic is required");
    }
    this.dataset = dataset;
    this.bootstrapServers = bootstrapServers;
    this.topic = topic;
    this.groupId = groupId == null ? "bakery-" + dataset.name() : groupId;
    this.metadataTimeout = metadataTimeout;
  }

  @Override
  public String describe() {
    return "kafka " + bootstrapServers + " topic " + topic;
  }

  /** The position key of a partition. */
  public static String key(TopicPartition tp) {
    return tp.topic() + "-" + tp.partition();
  }

  @Override
  public Source<LiveRecord, ?> open(LivePosition from, SkipCounter skips, ActorSystem system) {
    Map<TopicPartition, Long> start = new HashMap<>();
    for (PartitionInfo p : partitions()) {
      TopicPartition tp = new TopicPartition(topic, p.partition());
      start.put(tp, from.offset(key(tp)));
    }
    LOG.info("{}: reading partitions from {}", describe(), start);
    ConsumerSettings<String, String> settings = ConsumerSettings.create(system, new StringDeserializer(),
            new StringDeserializer())
        .withBootstrapServers(bootstrapServers)
        .withGroupId(groupId)
        .withProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false")
        // an offset no longer in the log (retention) restarts at the oldest record kept
        .withProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    Set<String> done = from.doneSet();
    MessagesLines lines = new MessagesLines(dataset);
    return Consumer.plainSource(settings, Subscriptions.assignmentWithOffset(start))
        .mapConcat(rec -> toRecords(rec, done, lines, skips));
  }

  private List<LiveRecord> toRecords(ConsumerRecord<String, String> rec, Set<String> done, MessagesLines lines,
      SkipCounter skips) {
    String key = key(new TopicPartition(rec.topic(), rec.partition()));
    if (done.contains(LivePosition.doneKey(key, rec.offset()))) {
      return List.of();
    }
    Sample s = lines.map(rec.value() == null ? "" : rec.value(), dataset.name() + "/" + key + "@" + rec.offset(),
        skips);
    return s == null ? List.of() : List.of(new LiveRecord(s, key, rec.offset(), rec.offset() + 1));
  }

  private List<PartitionInfo> partitions() {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(),
        new StringDeserializer())) {
      List<PartitionInfo> parts = c.partitionsFor(topic, metadataTimeout);
      if (parts == null || parts.isEmpty()) {
        throw new IllegalArgumentException("live kafka source " + dataset.name() + ": topic " + topic
            + " has no partitions on " + bootstrapServers);
      }
      return parts;
    } catch (org.apache.kafka.common.errors.TimeoutException e) {
      throw new IllegalStateException("live kafka source " + dataset.name() + ": no answer from " + bootstrapServers
          + " about topic " + topic + " within " + metadataTimeout, e);
    }
  }

  @Override
  public void close() {
    // the consumer stops when the stream is cancelled (LiveFeed.close)
  }
}
