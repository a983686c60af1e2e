// Grants a principal operations on every topic whose name starts with a prefix, through
// Kafka's Admin API (the broker jars hold no ACL command line tool):
//
//   java -cp '.state/kafka/libs/*' deploy/kafka/PrefixAcl.java BOOTSTRAP PRINCIPAL PREFIX OP...
//
// e.g. `127.0.0.1:19092 User:partner-acme partner.acme. WRITE DESCRIBE` lets partner-acme
// write its tenant's partner topics only. Run against a listener whose principal is a
// super user (the local stack's plaintext listener).
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class PrefixAcl {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: PrefixAcl BOOTSTRAP PRINCIPAL PREFIX OPERATION...");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        ResourcePattern topics = new ResourcePattern(ResourceType.TOPIC, args[2], PatternType.PREFIXED);
        List<AclBinding> bindings = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            AclOperation op = AclOperation.fromString(args[i]);
            bindings.add(new AclBinding(topics,
                new AccessControlEntry(args[1], "*", op, AclPermissionType.ALLOW)));
        }
        try (Admin admin = Admin.create(props)) {
            admin.createAcls(bindings).all().get();
        }
        System.out.println("granted " + (args.length - 3) + " operation(s) on " + args[2] + "* to " + args[1]);
    }
}
