package ai.bakery.runtime.collective;

import ai.bakery.runtime.collective.CollectiveException.Reason;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.bytedeco.javacpp.Pointer;

/**
 * The CPU backend: ring collectives over TCP between processes, on host memory.
 *
 * <p>All-reduce is a ring reduce-scatter followed by a ring all-gather (each rank sends and receives
 * {@code 2 (n-1)/n} of the buffer, the bandwidth-optimal schedule NCCL and Gloo use). Each of the {@code n}
 * segments is cut into chunks that flow through the ring as a pipeline: a chunk is reduced and forwarded
 * while the next is on the wire. Segments differ by at most one element, so any count works.
 * Operations run one at a time, in submission order, on the group's own thread.
 */
public final class TcpRingCollective implements Collective {
  /**
   * @param timeout longest wait for a peer's next chunk (or for it to accept ours) before the group fails
   * @param connectTimeout longest wait for the rendezvous and the ring's connections
   * @param chunkBytes pipeline unit: bytes per frame
   * @param pipelineDepth chunks received ahead of the reduction
   * @param bindHost local address to listen on
   * @param advertiseHost address the other ranks dial
   */
  public record Options(Duration timeout, Duration connectTimeout, int chunkBytes, int pipelineDepth, String bindHost,
      String advertiseHost) {
    public Options {
      if (timeout == null || timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, got " + timeout);
      }
      if (connectTimeout == null || connectTimeout.isNegative() || connectTimeout.isZero()) {
        throw new IllegalArgumentException("connectTimeout must be positive, got " + connectTimeout);
      }
      if (chunkBytes < 64) {
        throw new IllegalArgumentException("chunkBytes must be at least 64, got " + chunkBytes);
      }
      if (pipelineDepth < 1) {
        throw new IllegalArgumentException("pipelineDepth must be at least 1, got " + pipelineDepth);
      }
      if (bindHost == null || bindHost.isBlank()) {
        throw new IllegalArgumentException("bindHost must be set");
      }
      if (advertiseHost == null || advertiseHost.isBlank()) {
        throw new IllegalArgumentException("advertiseHost must be set");
      }
    }

    /** All ranks on this machine. */
    public static Options loopback() {
      return new Options(Duration.ofMinutes(5), Duration.ofMinutes(2), 512 << 10, 4, "127.0.0.1", "127.0.0.1");
    }

    /** Listens on every interface and advertises this host's address. */
    public static Options network() {
      try {
        String host = InetAddress.getLocalHost().getHostAddress();
        return new Options(Duration.ofMinutes(5), Duration.ofMinutes(2), 512 << 10, 4, "0.0.0.0", host);
      } catch (UnknownHostException e) {
        throw new IllegalStateException("cannot resolve this host's address; set advertiseHost explicitly", e);
      }
    }

    public Options withTimeout(Duration newTimeout) {
      return new Options(newTimeout, connectTimeout, chunkBytes, pipelineDepth, bindHost, advertiseHost);
    }

    public Options withConnectTimeout(Duration newTimeout) {
      return new Options(timeout, newTimeout, chunkBytes, pipelineDepth, bindHost, advertiseHost);
    }

    public Options withChunkBytes(int bytes) {
      return new Options(timeout, connectTimeout, bytes, pipelineDepth, bindHost, advertiseHost);
    }
  }

  private final String group;
  private final long generation;
  private final int rank;
  private final int worldSize;
  private final Options options;
  private final RingTransport transport; // null for a group of one
  private final ExecutorService runner;
  private final Set<CompletableFuture<Void>> pending = ConcurrentHashMap.newKeySet();
  private final ByteBuffer[] slots;
  private final HostReduce reduce = new HostReduce();
  private long nextSeq;
  private volatile boolean closed;

  private TcpRingCollective(String group, long generation, int rank, int worldSize, Options options,
      RingTransport transport) {
    this.group = group;
    this.generation = generation;
    this.rank = rank;
    this.worldSize = worldSize;
    this.options = options;
    this.transport = transport;
    this.runner = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "bakery-ring-" + group + "-g" + generation + "-r" + rank + "-ops");
      t.setDaemon(true);
      return t;
    });
    this.slots = new ByteBuffer[options.pipelineDepth()];
  }

  /**
   * Joins group {@code group} of generation {@code generation} as {@code rank} of {@code worldSize}: blocks
   * until every member has arrived through {@code rendezvous} and the ring is linked.
   */
  public static TcpRingCollective create(String group, long generation, int rank, int worldSize, Rendezvous rendezvous,
      Options options) {
    if (worldSize < 1) {
      throw new IllegalArgumentException("worldSize must be at least 1, got " + worldSize);
    }
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + worldSize + ")");
    }
    RingTransport transport = worldSize == 1 ? null
        : RingTransport.connect(group, Rendezvous.key(group, generation), generation, rank, worldSize, rendezvous, options);
    return new TcpRingCollective(group, generation, rank, worldSize, options, transport);
  }

  /** Builds TCP ring groups meeting through {@code rendezvous}, e.g. for {@link ProcessMesh}. */
  public static CollectiveFactory factory(Rendezvous rendezvous, Options options) {
    return (group, generation, rank, worldSize) -> create(group, generation, rank, worldSize, rendezvous, options);
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int worldSize() {
    return worldSize;
  }

  @Override
  public long generation() {
    return generation;
  }

  @Override
  public Memory memory() {
    return Memory.HOST;
  }

  @Override
  public CompletableFuture<Void> allReduceAsync(Pointer buffer, long count, DType dtype, ReduceOp op) {
    long address = checked(buffer, count, dtype, "allReduce buffer");
    requireOp(op);
    return submit(seq -> allReduce(seq, address, count, dtype, op));
  }

  @Override
  public CompletableFuture<Void> reduceScatterAsync(Pointer send, Pointer recv, long recvCount, DType dtype, ReduceOp op) {
    long total = Math.multiplyExact(recvCount, (long) worldSize);
    long from = checked(send, total, dtype, "reduceScatter send");
    long to = checked(recv, recvCount, dtype, "reduceScatter recv");
    requireOp(op);
    return submit(seq -> reduceScatter(seq, from, to, recvCount, dtype, op));
  }

  @Override
  public CompletableFuture<Void> allGatherAsync(Pointer send, Pointer recv, long sendCount, DType dtype) {
    long from = checked(send, sendCount, dtype, "allGather send");
    long to = checked(recv, Math.multiplyExact(sendCount, (long) worldSize), dtype, "allGather recv");
    return submit(seq -> allGather(seq, from, to, sendCount, dtype));
  }

  @Override
  public CompletableFuture<Void> broadcastAsync(Pointer buffer, long count, DType dtype, int root) {
    if (root < 0 || root >= worldSize) {
      throw new IllegalArgumentException("broadcast root " + root + " outside [0, " + worldSize + ")");
    }
    long address = checked(buffer, count, dtype, "broadcast buffer");
    return submit(seq -> broadcast(seq, address, count, dtype, root));
  }

  @Override
  public CompletableFuture<Void> barrierAsync() {
    return submit(seq -> {
      try (HostBuffer token = HostBuffer.of(new long[] {1})) {
        allReduce(seq, token.address(), 1, DType.INT64, ReduceOp.SUM);
        long arrived = token.toLongs()[0];
        if (arrived != worldSize) {
          throw new CollectiveException(Reason.PROTOCOL, "barrier counted " + arrived + " ranks, expected " + worldSize);
        }
      }
    });
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    CollectiveException cause = new CollectiveException(Reason.CLOSED,
        "group '" + group + "' generation " + generation + " rank " + rank + " was closed");
    if (transport != null) {
      transport.close();
    }
    runner.shutdownNow();
    for (CompletableFuture<Void> f : pending) {
      f.completeExceptionally(cause);
    }
  }

  @Override
  public String toString() {
    return "TcpRingCollective[" + group + ", generation " + generation + ", rank " + rank + "/" + worldSize + "]";
  }

  private interface Body {
    void run(long seq);
  }

  private CompletableFuture<Void> submit(Body body) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    synchronized (this) {
      failIfUnusable();
      long seq = nextSeq++;
      pending.add(done);
      try {
        runner.execute(() -> {
          try {
            failIfUnusable();
            body.run(seq);
            done.complete(null);
          } catch (CollectiveException e) {
            done.completeExceptionally(e);
          } catch (RuntimeException | Error e) {
            // A failure half-way leaves peers mid-operation: the group cannot continue.
            CollectiveException broken = new CollectiveException(Reason.PROTOCOL, "operation #" + seq + " failed: " + e, e);
            if (transport != null) {
              transport.fail(broken);
            }
            done.completeExceptionally(broken);
          } finally {
            pending.remove(done);
          }
        });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        pending.remove(done);
        done.completeExceptionally(new CollectiveException(Reason.CLOSED, this + " is closed"));
      }
    }
    return done;
  }

  private void failIfUnusable() {
    if (closed) {
      throw new CollectiveException(Reason.CLOSED, this + " is closed");
    }
    if (transport != null && transport.failure() != null) {
      throw new CollectiveException(transport.failure());
    }
  }

  private static void requireOp(ReduceOp op) {
    if (op == null) {
      throw new IllegalArgumentException("reduce op is null");
    }
  }

  private static long checked(Pointer p, long count, DType dtype, String what) {
    if (p == null || p.isNull()) {
      throw new IllegalArgumentException(what + " is a null pointer");
    }
    if (count < 0) {
      throw new IllegalArgumentException(what + ": negative count " + count);
    }
    if (dtype == null) {
      throw new IllegalArgumentException(what + ": dtype is null");
    }
    return Collective.address(p);
  }

  // ---- algorithms (run on the group's thread) ----

  private void allReduce(long seq, long address, long count, DType dtype, ReduceOp op) {
    if (worldSize == 1) {
      return; // AVG over one rank is the value itself
    }
    Layout layout = Layout.balanced(address, count, dtype, worldSize, options.chunkBytes());
    List<CompletableFuture<Void>> forwarded = new ArrayList<>();
    awaitAll(reduceScatterRing(seq, layout, dtype, op, 0, forwarded), "sending reduce-scatter chunks");
    // After the reduce-scatter rank r owns segment r+1, whose chunks are already on the way right. Those sends
    // are not awaited before the all-gather: the right rank reads them only once it is in its all-gather.
    allGatherRing(seq, layout, rank + 1, false);
    awaitAll(forwarded, "sending reduced chunks");
  }

  private void reduceScatter(long seq, long send, long recv, long recvCount, DType dtype, ReduceOp op) {
    long bytes = dtype.bytes(recvCount * worldSize);
    try (HostBuffer work = HostBuffer.allocate(dtype, recvCount * worldSize)) {
      copy(send, work.address(), bytes);
      if (worldSize > 1) {
        Layout layout = Layout.equal(work.address(), recvCount, dtype, worldSize, options.chunkBytes());
        awaitAll(reduceScatterRing(seq, layout, dtype, op, 1, null), "sending reduce-scatter chunks");
      }
      copy(work.address() + dtype.bytes(recvCount * rank), recv, dtype.bytes(recvCount));
    }
  }

  private void allGather(long seq, long send, long recv, long sendCount, DType dtype) {
    long own = recv + dtype.bytes(sendCount * rank);
    if (own != send) {
      copy(send, own, dtype.bytes(sendCount));
    }
    if (worldSize > 1) {
      allGatherRing(seq, Layout.equal(recv, sendCount, dtype, worldSize, options.chunkBytes()), rank, true);
    }
  }

  private void broadcast(long seq, long address, long count, DType dtype, int root) {
    if (worldSize == 1) {
      return;
    }
    // A pipelined chain root -> root+1 -> ... ; the last rank only receives.
    Layout whole = Layout.equal(address, count, dtype, 1, options.chunkBytes());
    int position = Math.floorMod(rank - root, worldSize);
    List<CompletableFuture<Void>> sent = new ArrayList<>();
    if (position == 0) {
      for (Chunk c : whole.chunks(0)) {
        sent.add(transport.send(seq, c.view()));
      }
    } else {
      List<Chunk> chunks = whole.chunks(0);
      List<CompletableFuture<Void>> arrivals = new ArrayList<>(chunks.size());
      for (Chunk c : chunks) {
        arrivals.add(transport.receive(seq, c.view()));
      }
      for (int i = 0; i < chunks.size(); i++) {
        transport.await(arrivals.get(i), "receiving broadcast chunk " + i + " from rank " + transport.left());
        if (position < worldSize - 1) {
          sent.add(transport.send(seq, chunks.get(i).view()));
        }
      }
    }
    awaitAll(sent, "forwarding broadcast chunks");
  }

  /**
   * Ring reduce-scatter in place: at step s rank r sends segment {@code r - s - shift} and reduces the
   * incoming segment {@code r - s - 1 - shift}; after {@code n - 1} steps it holds the full reduction of
   * segment {@code r + 1 - shift}. With {@code forwarded} non-null those last chunks are sent on at once
   * (the all-gather's first step) and their sends collected there. Returns the other sends still in flight.
   */
  private List<CompletableFuture<Void>> reduceScatterRing(long seq, Layout layout, DType dtype, ReduceOp op, int shift,
      List<CompletableFuture<Void>> forwarded) {
    int n = worldSize;
    List<CompletableFuture<Void>> sent = new ArrayList<>();
    for (Chunk c : layout.chunks(Math.floorMod(rank - shift, n))) {
      sent.add(transport.send(seq, c.view()));
    }
    List<Chunk> incoming = new ArrayList<>();
    int finalFrom = -1;
    for (int s = 0; s < n - 1; s++) {
      if (s == n - 2) {
        finalFrom = incoming.size();
      }
      incoming.addAll(layout.chunks(Math.floorMod(rank - s - 1 - shift, n)));
    }
    int depth = slots.length;
    List<CompletableFuture<Void>> arrivals = new ArrayList<>(incoming.size());
    for (int i = 0; i < Math.min(depth, incoming.size()); i++) {
      arrivals.add(transport.receive(seq, slot(i % depth, incoming.get(i).bytes())));
    }
    for (int i = 0; i < incoming.size(); i++) {
      Chunk c = incoming.get(i);
      transport.await(arrivals.get(i), "receiving reduce-scatter chunk " + i + " from rank " + transport.left());
      ByteBuffer target = c.view();
      reduce.combine(target, slot(i % depth, c.bytes()), dtype, op);
      boolean last = i >= finalFrom;
      if (last && op == ReduceOp.AVG) {
        reduce.scale(target, dtype, n);
      }
      if (!last) {
        sent.add(transport.send(seq, c.view()));
      } else if (forwarded != null) {
        forwarded.add(transport.send(seq, c.view()));
      }
      if (i + depth < incoming.size()) {
        arrivals.add(transport.receive(seq, slot(i % depth, incoming.get(i + depth).bytes())));
      }
    }
    return sent;
  }

  /**
   * Ring all-gather in place: rank r starts owning segment {@code owned}; at step s it receives segment
   * {@code owned - s - 1} and forwards it unless it is the last step. With {@code sendOwned} false the
   * owned segment was already sent.
   */
  private void allGatherRing(long seq, Layout layout, int owned, boolean sendOwned) {
    int n = worldSize;
    List<CompletableFuture<Void>> sent = new ArrayList<>();
    if (sendOwned) {
      for (Chunk c : layout.chunks(Math.floorMod(owned, n))) {
        sent.add(transport.send(seq, c.view()));
      }
    }
    List<Chunk> incoming = new ArrayList<>();
    int lastFrom = -1;
    for (int s = 0; s < n - 1; s++) {
      if (s == n - 2) {
        lastFrom = incoming.size();
      }
      incoming.addAll(layout.chunks(Math.floorMod(owned - s - 1, n)));
    }
    List<CompletableFuture<Void>> arrivals = new ArrayList<>(incoming.size());
    for (Chunk c : incoming) {
      arrivals.add(transport.receive(seq, c.view()));
    }
    for (int i = 0; i < incoming.size(); i++) {
      transport.await(arrivals.get(i), "receiving all-gather chunk " + i + " from rank " + transport.left());
      if (i < lastFrom) {
        sent.add(transport.send(seq, incoming.get(i).view()));
      }
    }
    awaitAll(sent, "sending all-gather chunks");
  }

  private void awaitAll(List<CompletableFuture<Void>> sends, String what) {
    for (CompletableFuture<Void> f : sends) {
      transport.await(f, what + " to rank " + transport.right());
    }
  }

  private ByteBuffer slot(int index, int bytes) {
    if (slots[index] == null) {
      slots[index] = ByteBuffer.allocateDirect(options.chunkBytes()).order(ByteOrder.nativeOrder());
    }
    ByteBuffer b = slots[index].duplicate().order(ByteOrder.nativeOrder());
    b.clear().limit(bytes);
    return b;
  }

  private static void copy(long from, long to, long bytes) {
    if (bytes > 0 && from != to) {
      Pointer.memmove(pointerAt(to), pointerAt(from), bytes);
    }
  }

  private static Pointer pointerAt(long at) {
    return new Pointer() {
      {
        address = at;
      }
    };
  }

  /** A contiguous run of elements that travels as one frame. */
  private record Chunk(long address, int bytes) {
    ByteBuffer view() {
      return HostBuffer.view(address, bytes);
    }
  }

  /** A buffer cut into {@code n} segments, each cut into chunks of at most {@code chunkBytes}. */
  private record Layout(long address, long[] segmentStart, long[] segmentCount, int elementBytes, long chunkElements) {
    /** Segments differ by at most one element (any count, even fewer elements than ranks). */
    static Layout balanced(long address, long count, DType dtype, int n, int chunkBytes) {
      long[] start = new long[n];
      long[] length = new long[n];
      long base = count / n;
      long extra = count % n;
      for (int i = 0; i < n; i++) {
        start[i] = i * base + Math.min(i, extra);
        length[i] = base + (i < extra ? 1 : 0);
      }
      return new Layout(address, start, length, dtype.bytes(), Math.max(1, chunkBytes / dtype.bytes()));
    }

    /** {@code n} segments of {@code perRank} elements each. */
    static Layout equal(long address, long perRank, DType dtype, int n, int chunkBytes) {
      long[] start = new long[n];
      long[] length = new long[n];
      for (int i = 0; i < n; i++) {
        start[i] = i * perRank;
        length[i] = perRank;
      }
      return new Layout(address, start, length, dtype.bytes(), Math.max(1, chunkBytes / dtype.bytes()));
    }

    List<Chunk> chunks(int segment) {
      List<Chunk> out = new ArrayList<>();
      long end = segmentStart[segment] + segmentCount[segment];
      for (long at = segmentStart[segment]; at < end; at += chunkElements) {
        long elements = Math.min(chunkElements, end - at);
        out.add(new Chunk(address + at * elementBytes, (int) (elements * elementBytes)));
      }
      return out;
    }
  }
}
