package sffn.cli;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import sffn.kernels.backend.Backends;
import sffn.kernels.backend.CpuBackend;

/** {@code sffn devices}: the devices this runtime can use, TornadoVM's included when it is present. */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "List the devices --backend/--device can pick: the CPU, and TornadoVM's devices when sffn runs under TornadoVM.")
public final class DevicesCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        try (CpuBackend cpu = new CpuBackend()) {
            System.out.println("cpu: " + cpu.describe() + "  (--backend cpu)");
        }
        String why = Backends.tornadoUnavailableReason();
        if (why != null) {
            System.out.println("tornado: " + why);
            return 0;
        }
        List<Backends.DeviceInfo> devices = Backends.tornadoDevices();
        System.out.println("tornado: " + devices.size() + " device(s)  (--backend tornado --device <id>; without --device, TornadoVM's default)");
        System.out.printf(Locale.ROOT, "  %-6s %-8s %-5s %10s %10s  %s%n", "id", "backend", "type", "memory", "max alloc", "device (platform)");
        for (Backends.DeviceInfo d : devices) {
            System.out.printf(Locale.ROOT, "  %-6s %-8s %-5s %10s %10s  %s (%s)%n", d.id(), d.backend().toLowerCase(Locale.ROOT),
                    d.type(), gib(d.globalMemoryBytes()), gib(d.maxAllocationBytes()), d.name(), d.platform().trim());
        }
        return 0;
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
}
