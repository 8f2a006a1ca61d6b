package ai.bakery.cli;

import ai.bakery.actors.launch.ClusterNode;
import ai.bakery.actors.launch.LocalCluster;
import ai.bakery.actors.security.ClusterCerts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code bakery cluster ...}: what a multi-node job needs besides its training config. */
final class ClusterCommand extends CommandGroup {
  ClusterCommand() {
    super("cluster", "set up a multi-node job (see deploy/README.md)");
    add(new LeafCommand("certs",
        "create the job's CA and a key store per node (Artery mutual TLS, Flight TLS)",
        Args.Spec.of("dir")
            .option("node=", "node name to issue a key store for (repeatable as a comma list: n1,n2)")
            .option("host=", "host names or IPs the nodes answer on, comma list (default 127.0.0.1,localhost)")
            .details("Writes ca.p12 (keep it off the nodes), truststore.p12 and <node>.p12 with random passwords in\n"
                + "owner-only *.password files. Running it again keeps the CA and adds nodes."),
        ClusterCommand::certs));
    add(new LeafCommand("up",
        "run a whole cluster job on this machine: coordinator, data nodes and workers as separate JVMs",
        Args.Spec.of().withPassThrough().details(String.join("\n",
            "usage: bakery cluster up --workers N --data-shards M [options] <config> [--key value ...]",
            "",
            "  --workers N        worker JVMs, one rank each (default 2)",
            "  --data-shards M    data-node JVMs, one data shard each (default 1)",
            "  --coordinators C   coordinator JVMs: the job singleton and C-1 stand-bys it moves to (default 1)",
            "  --min-workers K    below K workers the job waits (default 1)",
            "  --job-dir D        job state, token and logs (default ./cluster-job)",
            "  --heap 2g          -Xmx of each JVM",
            "  --export D         workers write their final weights to D/<worker>.safetensors",
            "",
            "Output of every node is forwarded with its name in front; the coordinator prints the step lines.",
            "Ctrl-C stops every node. Exits non-zero when the job fails. See deploy/README.md.")),
        (args, cli) -> LocalCluster.run(args.rest(), cli.out())));
    add(new LeafCommand("node",
        "run one node of a cluster job (coordinator, data and/or worker role) until the job ends",
        Args.Spec.of().withPassThrough().details(String.join("\n",
            "usage: bakery cluster node --role R --seed host:port [options] <config> [--key value ...]",
            "",
            "  --role R             coordinator, data, worker (comma list for several)",
            "  --seed host:port     seed node(s), comma list; the same list on every node",
            "  --host H             address this node binds and advertises (default 127.0.0.1)",
            "  --port P             Artery port (default 0: any; seed nodes need theirs fixed)",
            "  --flight-port P      data role: Flight port (default 0: any)",
            "  --data-shards M      the job's data shards (same on every node; default 1)",
            "  --min-workers K / --max-workers N   bounds of the world (coordinator)",
            "  --job-dir D          coordinator: job state (job.json); default home of job.token",
            "  --token-file F       the job's Flight token (or BAKERY_JOB_TOKEN)",
            "  --id NAME            worker name (default worker-<host>-<pid>)",
            "  --certs D --node N   mutual TLS with the job's certificates (bakery cluster certs)",
            "  --node-config F      HOCON file over these settings (pekko.*, bakery.cluster.*)",
            "  --export D           worker: write the final weights to D/<id>.safetensors",
            "  --max-failed-steps K coordinator: fail the job after K aborted steps in a row (default 10)",
            "",
            "Exit status: 0 job finished, 1 job failed or node removed, 2 bad command line or config.")),
        (args, cli) -> ClusterNode.run(args.rest())));
  }

  private static int certs(Args args, Cli cli) throws Exception {
    Path dir = Path.of(args.positional(0));
    List<String> nodes = split(args.option("node").orElse(""));
    List<String> hosts = split(args.option("host").orElse("127.0.0.1,localhost"));
    ClusterCerts certs = new ClusterCerts(dir);
    certs.createAuthority();
    List<String> issued = new ArrayList<>();
    for (String node : nodes) {
      try {
        certs.issueNode(node, hosts);
      } catch (IllegalArgumentException e) {
        throw new UsageException(args.path() + ": " + e.getMessage());
      }
      issued.add(node + ".p12");
    }
    cli.out().println("job CA in " + dir.toAbsolutePath() + (issued.isEmpty() ? "" : "; issued " + String.join(", ", issued)));
    return 0;
  }

  private static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    for (String p : s.split(",")) {
      if (!p.isBlank()) {
        out.add(p.trim());
      }
    }
    return out;
  }
}
