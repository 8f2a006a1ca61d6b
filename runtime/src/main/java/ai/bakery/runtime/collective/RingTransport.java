package ai.bakery.runtime.collective;

import ai.bakery.runtime.collective.CollectiveException.Reason;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The two TCP links of one rank in a ring: frames go to the right neighbour ({@code rank + 1}) and come
 * from the left one ({@code rank - 1}). A sender and a receiver thread each work through a FIFO of requests,
 * so the caller posts receives ahead and overlaps them with its reductions and sends.
 *
 * <p>Every frame carries the group's generation and the operation's sequence number; a frame of another
 * generation or operation breaks the group. Any failure (peer gone, timeout, close) is recorded once,
 * closes both links (which unblocks the threads) and fails every pending and later request.
 */
final class RingTransport implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RingTransport.class);
  private static final int MAGIC = 0xBA6E7001;
  private static final int HEADER_BYTES = 4 + 8 + 8 + 4;
  private static final int SOCKET_BUFFER_BYTES = 4 << 20;
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  private record Request(long seq, ByteBuffer payload, CompletableFuture<Void> done) {}

  private final String name;
  private final long generation;
  private final int rank;
  private final int left;
  private final int right;
  private final Duration timeout;
  private final SocketChannel toRight;
  private final SocketChannel fromLeft;
  private final BlockingQueue<Request> sends = new LinkedBlockingQueue<>();
  private final BlockingQueue<Request> receives = new LinkedBlockingQueue<>();
  private final Thread sender;
  private final Thread receiver;
  private volatile CollectiveException failure;

  private RingTransport(String name, long generation, int rank, int worldSize, Duration timeout,
      SocketChannel toRight, SocketChannel fromLeft) {
    this.name = name;
    this.generation = generation;
    this.rank = rank;
    this.left = Math.floorMod(rank - 1, worldSize);
    this.right = (rank + 1) % worldSize;
    this.timeout = timeout;
    this.toRight = toRight;
    this.fromLeft = fromLeft;
    this.sender = daemon(this::sendLoop, name + "-send");
    this.receiver = daemon(this::receiveLoop, name + "-recv");
    sender.start();
    receiver.start();
  }

  /**
   * Publishes this rank's listening address under {@code key}, connects to the right neighbour, accepts the
   * left one and checks both handshakes (group, generation, ranks). Needs {@code worldSize >= 2}.
   */
  static RingTransport connect(String group, String key, long generation, int rank, int worldSize,
      Rendezvous rendezvous, TcpRingCollective.Options options) {
    String name = "ring-" + group + "-g" + generation + "-r" + rank;
    int left = Math.floorMod(rank - 1, worldSize);
    int right = (rank + 1) % worldSize;
    int groupHash = group.hashCode();
    SocketChannel toRight = null;
    SocketChannel fromLeft = null;
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER_BYTES);
      server.bind(new InetSocketAddress(options.bindHost(), 0), worldSize);
      int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
      List<InetSocketAddress> peers = Rendezvous.decodeAddresses(rendezvous.exchange(key, rank, worldSize,
          Rendezvous.encodeAddress(InetSocketAddress.createUnresolved(options.advertiseHost(), port)),
          options.connectTimeout()));
      long deadline = System.nanoTime() + options.connectTimeout().toNanos();

      toRight = dial(peers.get(right), deadline, right);
      DataOutputStream hello = new DataOutputStream(toRight.socket().getOutputStream());
      hello.writeInt(MAGIC);
      hello.writeInt(groupHash);
      hello.writeLong(generation);
      hello.writeInt(rank);
      hello.writeInt(worldSize);
      hello.flush();

      fromLeft = acceptLeft(server, deadline, groupHash, generation, left, worldSize, group);

      Socket rightSocket = toRight.socket();
      rightSocket.setSoTimeout(remainingMillis(deadline));
      DataInputStream reply = new DataInputStream(rightSocket.getInputStream());
      int status = reply.readByte();
      long theirGeneration = reply.readLong();
      rightSocket.setSoTimeout(0);
      if (status != 0) {
        throw new CollectiveException(Reason.GENERATION_MISMATCH, "rank " + right + " at " + peers.get(right)
            + " rejected rank " + rank + " of group '" + group + "' generation " + generation + " (it is at generation "
            + theirGeneration + ", " + rejection(status) + ")");
      }
      log.debug("{}: linked to left rank {} and right rank {}", name, left, right);
      return new RingTransport(name, generation, rank, worldSize, options.timeout(), toRight, fromLeft);
    } catch (IOException e) {
      closeQuietly(toRight);
      closeQuietly(fromLeft);
      Reason reason = e instanceof SocketTimeoutException ? Reason.TIMEOUT : Reason.PEER_LOST;
      throw new CollectiveException(reason, name + ": cannot link ring neighbours: " + e, e);
    } catch (RuntimeException e) {
      closeQuietly(toRight);
      closeQuietly(fromLeft);
      throw e;
    }
  }

  private static SocketChannel dial(InetSocketAddress unresolved, long deadline, int peer) throws IOException {
    InetSocketAddress address = new InetSocketAddress(unresolved.getHostString(), unresolved.getPort());
    while (true) {
      SocketChannel channel = SocketChannel.open();
      try {
        configure(channel);
        channel.socket().connect(address, Math.max(1, remainingMillis(deadline)));
        return channel;
      } catch (ConnectException e) {
        channel.close();
        if (System.nanoTime() > deadline) {
          throw new CollectiveException(Reason.TIMEOUT, "cannot connect to rank " + peer + " at " + address + ": " + e, e);
        }
        sleepQuietly(20);
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
    }
  }

  private static SocketChannel acceptLeft(ServerSocketChannel server, long deadline, int groupHash, long generation,
      int left, int worldSize, String group) throws IOException {
    server.socket().setSoTimeout(Math.max(1, remainingMillis(deadline)));
    SocketChannel channel;
    try {
      channel = server.socket().accept().getChannel();
    } catch (SocketTimeoutException e) {
      throw new CollectiveException(Reason.TIMEOUT, "rank " + left + " did not connect within the connect timeout", e);
    }
    try {
      configure(channel);
      Socket socket = channel.socket();
      socket.setSoTimeout(Math.max(1, remainingMillis(deadline)));
      DataInputStream in = new DataInputStream(socket.getInputStream());
      int magic = in.readInt();
      int theirGroup = in.readInt();
      long theirGeneration = in.readLong();
      int theirRank = in.readInt();
      int theirWorld = in.readInt();
      socket.setSoTimeout(0);
      int status = magic != MAGIC ? 4
          : theirGroup != groupHash ? 2
          : theirGeneration != generation ? 1
          : theirRank != left || theirWorld != worldSize ? 3
          : 0;
      DataOutputStream out = new DataOutputStream(socket.getOutputStream());
      out.writeByte(status);
      out.writeLong(generation);
      out.flush();
      if (status != 0) {
        throw new CollectiveException(Reason.GENERATION_MISMATCH, "rejected a peer of group '" + group + "' generation "
            + generation + ": it claims rank " + theirRank + " of " + theirWorld + " at generation " + theirGeneration
            + " (" + rejection(status) + ")");
      }
      return channel;
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  private static String rejection(int status) {
    return switch (status) {
      case 1 -> "generation differs";
      case 2 -> "group differs";
      case 3 -> "unexpected rank or world size";
      case 4 -> "not a bakery ring peer";
      default -> "status " + status;
    };
  }

  private static void configure(SocketChannel channel) throws IOException {
    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
    channel.setOption(StandardSocketOptions.SO_SNDBUF, SOCKET_BUFFER_BYTES);
    channel.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER_BYTES);
  }

  /** Queues {@code payload} (from its position to its limit) for the right neighbour. */
  CompletableFuture<Void> send(long seq, ByteBuffer payload) {
    return enqueue(sends, new Request(seq, payload, new CompletableFuture<>()));
  }

  /** Queues a receive from the left neighbour that must fill {@code target} exactly. */
  CompletableFuture<Void> receive(long seq, ByteBuffer target) {
    return enqueue(receives, new Request(seq, target, new CompletableFuture<>()));
  }

  private CompletableFuture<Void> enqueue(BlockingQueue<Request> queue, Request request) {
    queue.add(request);
    CollectiveException failed = failure;
    if (failed != null) {
      // fail() may have drained the queue before this request got in.
      request.done().completeExceptionally(failed);
    }
    return request.done();
  }

  /** Waits for a request, failing the group if it makes no progress within the timeout. */
  void await(CompletableFuture<Void> request, String what) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      CollectiveException failed = failure;
      if (failed != null) {
        throw new CollectiveException(failed);
      }
      try {
        request.get(Math.min(POLL_NANOS, Math.max(1, deadline - System.nanoTime())), TimeUnit.NANOSECONDS);
        return;
      } catch (TimeoutException e) {
        if (System.nanoTime() >= deadline) {
          fail(new CollectiveException(Reason.TIMEOUT, name + ": no progress within " + timeout + " while " + what));
        }
      } catch (ExecutionException e) {
        if (e.getCause() instanceof CollectiveException ce) {
          throw new CollectiveException(ce);
        }
        throw new CollectiveException(Reason.PROTOCOL, name + ": " + what + " failed: " + e.getCause(), e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        fail(new CollectiveException(Reason.CLOSED, name + ": interrupted while " + what));
      }
    }
  }

  CollectiveException failure() {
    return failure;
  }

  int left() {
    return left;
  }

  int right() {
    return right;
  }

  /** Records the first failure, closes the links and fails everything pending. */
  void fail(CollectiveException cause) {
    synchronized (this) {
      if (failure != null) {
        return;
      }
      failure = cause;
    }
    if (cause.reason() != Reason.CLOSED) {
      log.warn("{}: {}", name, cause.getMessage());
    }
    closeQuietly(toRight);
    closeQuietly(fromLeft);
    sender.interrupt();
    receiver.interrupt();
    drain(sends, cause);
    drain(receives, cause);
  }

  @Override
  public void close() {
    fail(new CollectiveException(Reason.CLOSED, name + " was closed"));
    joinQuietly(sender);
    joinQuietly(receiver);
  }

  private void sendLoop() {
    ByteBuffer header = ByteBuffer.allocateDirect(HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
    Request request = null;
    try {
      while (failure == null) {
        request = sends.take();
        header.clear();
        header.putInt(MAGIC).putLong(generation).putLong(request.seq()).putInt(request.payload().remaining()).flip();
        ByteBuffer[] frame = {header, request.payload()};
        while (frame[1].hasRemaining() || header.hasRemaining()) {
          toRight.write(frame);
        }
        request.done().complete(null);
        request = null;
      }
    } catch (InterruptedException e) {
      // close() or fail() woke us; the requests were failed there.
    } catch (IOException e) {
      fail(new CollectiveException(Reason.PEER_LOST, name + ": link to rank " + right + " broke while sending: " + e, e));
    } finally {
      if (request != null && failure != null) {
        request.done().completeExceptionally(failure);
      }
    }
  }

  private void receiveLoop() {
    ByteBuffer header = ByteBuffer.allocateDirect(HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
    Request request = null;
    try {
      while (failure == null) {
        request = receives.take();
        header.clear();
        readFully(header);
        header.flip();
        int magic = header.getInt();
        long theirGeneration = header.getLong();
        long seq = header.getLong();
        int length = header.getInt();
        if (magic != MAGIC) {
          throw new CollectiveException(Reason.PROTOCOL, name + ": malformed frame from rank " + left);
        }
        if (theirGeneration != generation) {
          throw new CollectiveException(Reason.GENERATION_MISMATCH, name + ": rank " + left + " sent a frame of generation "
              + theirGeneration + ", this group is generation " + generation);
        }
        if (seq != request.seq() || length != request.payload().remaining()) {
          throw new CollectiveException(Reason.PROTOCOL, name + ": rank " + left + " sent " + length + " bytes for operation #"
              + seq + ", expected " + request.payload().remaining() + " bytes for operation #" + request.seq()
              + " (ranks issued different collectives)");
        }
        readFully(request.payload());
        request.done().complete(null);
        request = null;
      }
    } catch (InterruptedException e) {
      // close() or fail() woke us.
    } catch (CollectiveException e) {
      fail(e);
    } catch (IOException e) {
      fail(new CollectiveException(Reason.PEER_LOST, name + ": link from rank " + left + " broke: " + e, e));
    } finally {
      if (request != null && failure != null) {
        request.done().completeExceptionally(failure);
      }
    }
  }

  private void readFully(ByteBuffer target) throws IOException {
    while (target.hasRemaining()) {
      if (fromLeft.read(target) < 0) {
        throw new EOFException("rank " + left + " closed the connection");
      }
    }
  }

  private static void drain(BlockingQueue<Request> queue, CollectiveException cause) {
    for (Request r; (r = queue.poll()) != null; ) {
      r.done().completeExceptionally(cause);
    }
  }

  private static Thread daemon(Runnable body, String name) {
    Thread t = new Thread(body, "bakery-" + name);
    t.setDaemon(true);
    return t;
  }

  private static int remainingMillis(long deadline) throws SocketTimeoutException {
    long ms = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
    if (ms <= 0) {
      throw new SocketTimeoutException("connect timeout passed");
    }
    return (int) Math.min(Integer.MAX_VALUE, ms);
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c != null) {
      try {
        c.close();
      } catch (Exception ignored) {
        // Closing on a failure path; the original error is what matters.
      }
    }
  }

  private static void joinQuietly(Thread t) {
    try {
      t.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
