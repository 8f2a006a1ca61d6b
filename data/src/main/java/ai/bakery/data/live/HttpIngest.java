package ai.bakery.data.live;

import ai.bakery.data.sample.Sample;
import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipReason;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An HTTP endpoint taking {@code messages}-format JSON lines ({@code POST /ingest}, one record per line).
 * Every accepted line is appended to a durable log, and the log is fsynced before the 2xx reply, so an
 * acknowledged sample is never lost. The log is also the source's replay log: the stream reads it from the
 * saved byte offset (key {@code log}), so a restart continues exactly after the last trained line. When more
 * than {@code maxPending} lines wait in the log unread (the pipeline is not keeping up), a request is refused
 * with 429 and {@code Retry-After} rather than buffered. Lines that are not JSON objects are refused in the
 * reply and counted; lines that parse but do not map (an unknown role) are counted when read, as for files.
 *
 * <p>Bound to 127.0.0.1 unless told otherwise; bound anywhere else it requires a bearer token.
 */
public final class HttpIngest implements LiveSource {
  private static final Logger LOG = LoggerFactory.getLogger(HttpIngest.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The key of the log in {@link LivePosition}s. */
  public static final String LOG_KEY = "log";

  private final DatasetSource dataset;
  private final String host;
  private final int port;
  private final byte[] token;
  private final int maxPending;
  private final int retryAfterSeconds;
  private final Duration poll;
  private final int batch;
  private final AtomicLong pending = new AtomicLong();
  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private volatile long durableEnd;
  private final java.util.concurrent.LinkedBlockingQueue<Batch> writes =
      new java.util.concurrent.LinkedBlockingQueue<>();
  private Thread writer;
  private volatile boolean stopping;
  private FileChannel log;
  private ServerBinding binding;
  private SkipCounter skips;

  /**
   * @param dataset {@code path} is the log file (created when missing), {@code dataRoot} the media folder
   * @param host address to bind; anything but loopback needs a token
   * @param port port to bind, 0 for any free one ({@link #port()})
   * @param token the bearer token, or null for none
   * @param maxPending lines logged but not yet read by the pipeline before requests are refused
   * @param retryAfterSeconds the Retry-After of a refusal
   */
  public HttpIngest(DatasetSource dataset, String host, int port, String token, int maxPending,
      int retryAfterSeconds, Duration poll, int batch) {
    String at = "live http source " + dataset.name();
    if (maxPending < 1) {
      throw new IllegalArgumentException(at + ": max_pending must be >= 1, got " + maxPending);
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(at + ": port must be in [0, 65535], got " + port);
    }
    if ((token == null || token.isBlank()) && !isLoopback(host)) {
      throw new IllegalArgumentException(at + ": bound to " + host + " it needs a bearer token (token_file or"
          + " token_env); without one bind to 127.0.0.1");
    }
    this.dataset = dataset;
    this.host = host;
    this.port = port;
    this.token = token == null || token.isBlank() ? null : token.strip().getBytes(StandardCharsets.UTF_8);
    this.maxPending = maxPending;
    this.retryAfterSeconds = Math.max(1, retryAfterSeconds);
    this.poll = poll;
    this.batch = batch;
  }

  static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  @Override
  public String describe() {
    return "http " + host + ":" + (binding == null ? port : port()) + " logging to " + dataset.path();
  }

  /** The bound port (after {@link #open}). */
  public int port() {
    return binding.localAddress().getPort();
  }

  /** Lines acknowledged since open. */
  public long accepted() {
    return accepted.get();
  }

  /** Requests refused with 429 since open. */
  public long refused() {
    return refused.get();
  }

  /** Lines in the log that the pipeline has not read yet. */
  public long pending() {
    return pending.get();
  }

  @Override
  public Source<LiveRecord, ?> open(LivePosition from, SkipCounter skips, ActorSystem system) {
    if (log != null) {
      throw new IllegalStateException(describe() + " is already open");
    }
    this.skips = skips;
    Path file = dataset.path();
    long start = from.offset(LOG_KEY);
    try {
      if (file.getParent() != null) {
        Files.createDirectories(file.getParent());
      }
      log = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
      long size = log.size();
      long end = lastNewline(log, size);
      if (end < size) {
        // a torn write from a crash before its fsync: never acknowledged, so dropped
        LOG.warn("{}: dropping {} bytes of an unacknowledged partial line at the end of the log", describe(),
            size - end);
        log.truncate(end);
      }
      log.position(end);
      durableEnd = end;
      if (start > end) {
        throw new IllegalArgumentException("live http source " + dataset.name() + ": saved position " + start
            + " is past the end of its log " + file + " (" + end + " bytes): the log was replaced");
      }
      pending.set(countLines(log, start, end));
    } catch (IOException e) {
      throw new UncheckedIOException("live http source " + dataset.name() + ": cannot open its log " + file, e);
    }
    writer = new Thread(this::writeLoop, "bakery-ingest-log");
    writer.setDaemon(true);
    writer.start();
    Materializer mat = Materializer.matFromSystem(system);
    try {
      org.apache.pekko.japi.function.Function<HttpRequest, CompletionStage<HttpResponse>> handler =
          req -> handle(req, mat);
      binding = Http.get(system).newServerAt(host, port).bind(handler)
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      close();
      throw new IllegalStateException("live http source " + dataset.name() + ": cannot bind " + host + ":" + port
          + ": " + e.getMessage(), e);
    }
    LOG.info("ingest endpoint on {}:{} (log {}, {} lines pending)", host, port(), file, pending.get());
    Tail tail = new Tail(start, from.doneSet());
    return Source.tick(Duration.ZERO, poll, "tick")
        .mapConcat(t -> tail.poll())
        .withAttributes(ActorAttributes.dispatcher("pekko.stream.blocking-io-dispatcher"));
  }

  private CompletionStage<HttpResponse> handle(HttpRequest req, Materializer mat) {
    String path = req.getUri().path();
    if (path.equals("/health") && req.method() == HttpMethods.GET) {
      req.discardEntityBytes(mat);
      return done(StatusCodes.OK, "{\"pending\":" + pending.get() + ",\"max_pending\":" + maxPending + "}");
    }
    if (!path.equals("/ingest")) {
      req.discardEntityBytes(mat);
      return done(StatusCodes.NOT_FOUND, "{\"error\":\"POST JSON lines to /ingest\"}");
    }
    if (req.method() != HttpMethods.POST) {
      req.discardEntityBytes(mat);
      return done(StatusCodes.METHOD_NOT_ALLOWED, "{\"error\":\"POST JSON lines to /ingest\"}");
    }
    if (token != null && !authorized(req)) {
      req.discardEntityBytes(mat);
      return done(StatusCodes.UNAUTHORIZED, "{\"error\":\"missing or wrong bearer token\"}");
    }
    if (pending.get() >= maxPending) {
      req.discardEntityBytes(mat); // cheap early refusal before reading the body
      return busy();
    }
    return req.entity().toStrict(10_000, mat)
        .thenCompose(strict -> submit(strict.getData().utf8String()));
  }

  private boolean authorized(HttpRequest req) {
    String h = req.getHeader("Authorization").map(x -> x.value()).orElse("");
    if (!h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    return MessageDigest.isEqual(token, h.substring(7).strip().getBytes(StandardCharsets.UTF_8));
  }

  /** A request's valid lines, waiting for the writer. */
  private record Batch(List<String> good, int rejected, CompletableFuture<HttpResponse> reply) {}

  /** Validates a request's lines (on the request's thread), then queues the good ones for the writer. */
  private CompletionStage<HttpResponse> submit(String body) {
    List<String> good = new ArrayList<>();
    int rejected = 0;
    String[] lines = body.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.isEmpty()) {
        continue;
      }
      try {
        JsonNode n = JSON.readTree(line);
        if (n == null || !n.isObject()) {
          throw new IOException("not a JSON object");
        }
        good.add(JSON.writeValueAsString(n)); // one line whatever the client's spacing
      } catch (IOException e) {
        rejected++;
        skips.skip(SkipReason.MALFORMED_JSON, "http ingest request line " + (i + 1), "not a JSON object: "
            + e.getMessage());
      }
    }
    if (good.isEmpty()) {
      return done(rejected > 0 ? StatusCodes.BAD_REQUEST : StatusCodes.OK, counts(0, rejected));
    }
    Batch b = new Batch(good, rejected, new CompletableFuture<>());
    writes.add(b);
    return b.reply();
  }

  private static String counts(int accepted, int rejected) {
    return "{\"accepted\":" + accepted + ",\"rejected\":" + rejected + "}";
  }

  /**
   * The single writer: takes every queued request, refuses those that would pass max_pending, appends the rest,
   * fsyncs once for all of them (group commit), then acknowledges. Nothing is acknowledged before its fsync.
   */
  private void writeLoop() {
    List<Batch> taken = new ArrayList<>();
    while (true) {
      try {
        Batch first = writes.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          if (stopping) {
            return;
          }
          continue;
        }
        taken.add(first);
      } catch (InterruptedException e) {
        return;
      }
      writes.drainTo(taken);
      List<Batch> accepted = new ArrayList<>();
      long room = maxPending - pending.get();
      StringBuilder text = new StringBuilder();
      for (Batch b : taken) {
        if (b.good().size() > room) {
          b.reply().complete(busyResponse());
          continue;
        }
        room -= b.good().size();
        b.good().forEach(l -> text.append(l).append('\n'));
        accepted.add(b);
      }
      taken.clear();
      if (accepted.isEmpty()) {
        continue;
      }
      if (!appendDurably(text.toString())) {
        accepted.forEach(b -> b.reply().complete(response(StatusCodes.SERVICE_UNAVAILABLE,
            "{\"error\":\"log write failed\"}")));
        continue;
      }
      for (Batch b : accepted) {
        pending.addAndGet(b.good().size());
        this.accepted.addAndGet(b.good().size());
        b.reply().complete(response(StatusCodes.OK, counts(b.good().size(), b.rejected())));
      }
    }
  }

  /** Appends and fsyncs; on failure rolls the log back to its last durable end so no unacknowledged line stays. */
  private boolean appendDurably(String text) {
    try {
      ByteBuffer bytes = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
      while (bytes.hasRemaining()) {
        log.write(bytes);
      }
      log.force(false);
      durableEnd = log.position();
      return true;
    } catch (IOException e) {
      LOG.error("{}: cannot append to the log", describe(), e);
      try {
        log.truncate(durableEnd);
        log.position(durableEnd);
      } catch (IOException again) {
        LOG.error("{}: cannot roll back the log", describe(), again);
      }
      return false;
    }
  }

  private CompletionStage<HttpResponse> busy() {
    return CompletableFuture.completedFuture(busyResponse());
  }

  private HttpResponse busyResponse() {
    refused.incrementAndGet();
    return response(StatusCodes.TOO_MANY_REQUESTS, "{\"error\":\"pipeline full\",\"pending\":" + pending.get()
        + "}").addHeader(RetryAfter.create((long) retryAfterSeconds));
  }

  private static CompletionStage<HttpResponse> done(StatusCode status, String json) {
    return CompletableFuture.completedFuture(response(status, json));
  }

  private static HttpResponse response(StatusCode status, String json) {
    return HttpResponse.create().withStatus(status).withEntity(ContentTypes.APPLICATION_JSON, json);
  }

  /** Byte just after the last newline at or before {@code size} (0 when there is none). */
  private static long lastNewline(FileChannel ch, long size) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(64 << 10);
    long end = size;
    while (end > 0) {
      int n = (int) Math.min(b.capacity(), end);
      b.clear().limit(n);
      ch.read(b, end - n);
      for (int i = n - 1; i >= 0; i--) {
        if (b.get(i) == '\n') {
          return end - n + i + 1;
        }
      }
      end -= n;
    }
    return 0;
  }

  private static long countLines(FileChannel ch, long from, long to) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(64 << 10);
    long lines = 0;
    for (long pos = from; pos < to; ) {
      b.clear().limit((int) Math.min(b.capacity(), to - pos));
      int n = ch.read(b, pos);
      for (int i = 0; i < n; i++) {
        if (b.get(i) == '\n') {
          lines++;
        }
      }
      pos += n;
    }
    return lines;
  }

  @Override
  public void close() {
    if (binding != null) {
      try {
        binding.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warn("{}: unbinding: {}", describe(), e.getMessage());
      }
    }
    stopping = true;
    if (writer != null) {
      try {
        writer.join(10_000); // finishes what is queued: queued requests are answered, never dropped silently
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (log != null) {
      try {
        log.close();
      } catch (IOException e) {
        LOG.warn("{}: closing the log: {}", describe(), e.getMessage());
      }
    }
  }

  /** The stream's read of the log: acknowledged lines only, from the saved offset. */
  private final class Tail {
    private final Set<String> done;
    private final MessagesLines lines = new MessagesLines(dataset);
    private long offset;

    Tail(long offset, Set<String> done) {
      this.offset = offset;
      this.done = done;
    }

    List<LiveRecord> poll() throws IOException {
      List<LiveRecord> out = new ArrayList<>();
      if (offset >= durableEnd) {
        return out;
      }
      for (JsonLineReader.Line l : JsonLineReader.read(dataset.path(), offset, batch, durableEnd)) {
        offset = l.next();
        pending.decrementAndGet();
        if (done.contains(LivePosition.doneKey(LOG_KEY, l.offset()))) {
          continue;
        }
        Sample s = lines.map(l.text(), dataset.name() + "/" + LOG_KEY + "@" + l.offset(), skips);
        if (s != null) {
          out.add(new LiveRecord(s, LOG_KEY, l.offset(), l.next()));
        }
      }
      return out;
    }
  }
}
