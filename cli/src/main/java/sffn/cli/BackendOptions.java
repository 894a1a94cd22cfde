package sffn.cli;

import picocli.CommandLine.Option;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.Backends;

/** {@code --backend} and {@code --device}, for every command that runs plans ({@code @Mixin}). */
public final class BackendOptions {
    @Option(names = "--backend", paramLabel = "cpu|tornado", defaultValue = "cpu",
            description = "Where kernels run: cpu (Vector API, all cores; default) or tornado (a TornadoVM device;"
                    + " run under TornadoVM with scripts/sffn-tornado).")
    String backend;

    @Option(names = "--device", paramLabel = "<backend:device>",
            description = "TornadoVM device as 'sffn devices' lists it, e.g. 0:1 (default: TornadoVM's default device).")
    String device;

    /** The backend the options name; throws a user-facing exception when TornadoVM is asked for but absent. */
    public Backend create() {
        return Backends.create(backend, device);
    }
}
