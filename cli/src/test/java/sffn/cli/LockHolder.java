package sffn.cli;

import java.nio.file.Path;
import sffn.nn.io.CheckpointLock;

/** A second process for the tests: holds a checkpoint's lock until its standard input closes. */
public final class LockHolder {
    private LockHolder() {
    }

    public static void main(String[] args) throws Exception {
        try (CheckpointLock lock = CheckpointLock.acquire(Path.of(args[0]))) {
            System.out.println("locked " + ProcessHandle.current().pid());
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the test to close our input (or to kill us)
            }
        }
    }
}
