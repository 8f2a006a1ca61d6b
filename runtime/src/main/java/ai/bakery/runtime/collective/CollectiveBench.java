package ai.bakery.runtime.collective;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code bakery bench collective}: all-reduce bus bandwidth of the TCP ring backend between separate JVMs on
 * this machine, next to the raw bandwidth of one plain loopback TCP stream measured in the same run.
 *
 * <p>Figures follow nccl-tests: {@code algbw = bytes / time} and {@code busbw = algbw * 2 (n-1) / n}, the
 * rate each link carries during a ring all-reduce, comparable with the raw link rate.
 */
public final class CollectiveBench {
  private static final String ROW = "BENCH-ROW";

  /**
   * @param processes group sizes to measure, each with that many worker JVMs
   * @param minBytes smallest buffer (doubling up to {@code maxBytes})
   * @param rawStreamBytes bytes pushed through the plain TCP stream
   */
  public record Config(List<Integer> processes, long minBytes, long maxBytes, long rawStreamBytes, int chunkBytes) {
    public Config {
      if (processes == null || processes.isEmpty() || processes.stream().anyMatch(n -> n < 2)) {
        throw new IllegalArgumentException("processes must list group sizes of at least 2, got " + processes);
      }
      if (minBytes < 4 || maxBytes < minBytes) {
        throw new IllegalArgumentException("need 4 <= minBytes <= maxBytes, got " + minBytes + ".." + maxBytes);
      }
      if (rawStreamBytes < 1) {
        throw new IllegalArgumentException("rawStreamBytes must be positive, got " + rawStreamBytes);
      }
      if (chunkBytes < 64) {
        throw new IllegalArgumentException("chunkBytes must be at least 64, got " + chunkBytes);
      }
      processes = List.copyOf(processes);
    }

    /** 1 MB .. 256 MB on 2 and 3 processes. */
    public static Config defaults() {
      return new Config(List.of(2, 3), 1L << 20, 256L << 20, 2L << 30, TcpRingCollective.Options.loopback().chunkBytes());
    }
  }

  /** One measurement; {@code test} is "allreduce" or "tcp-stream". Bandwidths in GB/s (1e9 bytes). */
  public record Row(String test, int processes, long bytes, int iterations, double millis, double algbwGBps,
      double busbwGBps) {
    public Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("test", test);
      m.put("processes", processes);
      m.put("bytes", bytes);
      m.put("iterations", iterations);
      m.put("time_ms", round(millis));
      m.put("algbw_GBps", round(algbwGBps));
      m.put("busbw_GBps", round(busbwGBps));
      return m;
    }

    private static double round(double v) {
      return Math.round(v * 1000) / 1000.0;
    }
  }

  private CollectiveBench() {}

  /** Runs the raw stream and every all-reduce size for every group size; spawns JVMs on this machine. */
  public static List<Row> run(Config config) throws IOException, InterruptedException {
    List<Row> rows = new ArrayList<>();
    rows.add(rawStream(config.rawStreamBytes()));
    for (int n : config.processes()) {
      rows.addAll(allReduce(n, config));
    }
    return rows;
  }

  public static List<Map<String, Object>> runAsMaps(Config config) throws IOException, InterruptedException {
    return run(config).stream().map(Row::toMap).toList();
  }

  // ---- raw TCP stream: this JVM sends, a child JVM reads ----

  private static Row rawStream(long bytes) throws IOException, InterruptedException {
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(new InetSocketAddress("127.0.0.1", 0));
      int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
      Process sink = spawn(List.of(), List.of("sink", Integer.toString(port)));
      try (SocketChannel out = server.accept()) {
        ByteBuffer block = ByteBuffer.allocateDirect(4 << 20);
        ByteBuffer ack = ByteBuffer.allocate(1);
        long start = System.nanoTime();
        for (long sent = 0; sent < bytes; ) {
          block.clear().limit((int) Math.min(block.capacity(), bytes - sent));
          sent += out.write(block);
        }
        out.shutdownOutput();
        while (ack.hasRemaining() && out.read(ack) >= 0) {
          // the sink acknowledges once it has read everything
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double gbps = bytes / seconds / 1e9;
        finish(sink, "tcp sink");
        return new Row("tcp-stream", 2, bytes, 1, seconds * 1e3, gbps, gbps);
      } finally {
        sink.destroyForcibly();
      }
    }
  }

  private static void sink(int port) throws IOException {
    try (SocketChannel in = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
      ByteBuffer block = ByteBuffer.allocateDirect(4 << 20);
      while (in.read(block) >= 0) {
        block.clear();
      }
      in.write(ByteBuffer.wrap(new byte[] {1}));
    }
  }

  // ---- ring all-reduce: n worker JVMs, rank 0 reports ----

  private static List<Row> allReduce(int n, Config config) throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("bakery-bench-rdzv");
    List<Process> workers = new ArrayList<>();
    try {
      // The workers' buffers are native; JavaCPP caps native allocations at -Xmx unless told otherwise.
      String nativeCap = "-Dorg.bytedeco.javacpp.maxBytes=" + (config.maxBytes() + (256L << 20));
      for (int r = 0; r < n; r++) {
        workers.add(spawn(List.of(nativeCap), List.of("worker", dir.toString(), Integer.toString(r), Integer.toString(n),
            Long.toString(config.minBytes()), Long.toString(config.maxBytes()), Integer.toString(config.chunkBytes()))));
      }
      List<CompletableFuture<String>> outputs = workers.stream().map(CollectiveBench::drain).toList();
      for (int r = 0; r < n; r++) {
        finish(workers.get(r), "bench rank " + r + ":\n" + outputs.get(r).join());
      }
      List<Row> rows = new ArrayList<>();
      for (String line : outputs.get(0).join().split("\n")) {
        if (line.startsWith(ROW)) {
          String[] f = line.trim().split(" ");
          long bytes = Long.parseLong(f[1]);
          int iterations = Integer.parseInt(f[2]);
          double seconds = Double.parseDouble(f[3]);
          double algbw = bytes / seconds / 1e9;
          rows.add(new Row("allreduce", n, bytes, iterations, seconds * 1e3, algbw, algbw * 2 * (n - 1) / n));
        }
      }
      rows.sort(Comparator.comparingLong(Row::bytes));
      return rows;
    } finally {
      workers.forEach(Process::destroyForcibly);
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static void worker(Path dir, int rank, int n, long minBytes, long maxBytes, int chunkBytes) {
    TcpRingCollective.Options options = TcpRingCollective.Options.loopback().withChunkBytes(chunkBytes)
        .withTimeout(Duration.ofMinutes(2));
    try (Collective c = TcpRingCollective.create("bench", 0, rank, n, new FileRendezvous(dir), options);
        HostBuffer buffer = HostBuffer.allocate(DType.FLOAT32, maxBytes / 4)) {
      for (long bytes = minBytes; bytes <= maxBytes; bytes *= 2) {
        long count = bytes / 4;
        int iterations = (int) Math.max(3, Math.min(20, (64L << 20) / bytes * 4));
        for (int i = 0; i < 2; i++) {
          c.allReduce(buffer.pointer(), count, DType.FLOAT32, ReduceOp.SUM);
        }
        c.barrier();
        long start = System.nanoTime();
        for (int i = 0; i < iterations; i++) {
          c.allReduce(buffer.pointer(), count, DType.FLOAT32, ReduceOp.SUM);
        }
        double seconds = (System.nanoTime() - start) / 1e9 / iterations;
        if (rank == 0) {
          System.out.println(ROW + " " + bytes + " " + iterations + " " + seconds);
          System.out.flush();
        }
      }
      c.barrier();
    }
  }

  // ---- processes ----

  private static Process spawn(List<String> jvmOptions, List<String> args) throws IOException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+UseSerialGC", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"));
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), CollectiveBench.class.getName()));
    command.addAll(args);
    return new ProcessBuilder(command).redirectErrorStream(true).start();
  }

  private static CompletableFuture<String> drain(Process p) {
    return CompletableFuture.supplyAsync(() -> {
      try (InputStream in = p.getInputStream()) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "(output unreadable: " + e + ")";
      }
    });
  }

  private static void finish(Process p, String what) throws InterruptedException {
    if (!p.waitFor(10, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IllegalStateException(what + " did not finish within 10 minutes");
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException(what + " exited with " + p.exitValue());
    }
  }

  /**
   * Without arguments: runs {@link Config#defaults()} and prints one JSON object per row. The CLI calls
   * {@link #run} instead; the "worker" and "sink" modes are this class's own child processes.
   */
  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("worker")) {
      worker(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]), Long.parseLong(args[4]),
          Long.parseLong(args[5]), Integer.parseInt(args[6]));
      System.exit(0);
    }
    if (args.length > 0 && args[0].equals("sink")) {
      sink(Integer.parseInt(args[1]));
      System.exit(0);
    }
    Config config = Config.defaults();
    if (args.length == 2) {
      config = new Config(config.processes(), Long.parseLong(args[0]), Long.parseLong(args[1]), config.rawStreamBytes(),
          config.chunkBytes());
    }
    for (Row row : run(config)) {
      StringBuilder json = new StringBuilder("{");
      row.toMap().forEach((k, v) -> json.append(json.length() > 1 ? ", " : "").append('"').append(k).append("\": ")
          .append(v instanceof String s ? "\"" + s + "\"" : v));
      System.out.println(json.append('}'));
    }
  }
}
