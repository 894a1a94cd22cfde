package sffn.train.dist;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@link Collective} on Open MPI's C library, called through the Java Foreign Function and Memory
 * API: no JNI code to build, no Java bindings to install, one downcall per MPI call.
 *
 * <p>Open MPI's handles ({@code MPI_COMM_WORLD}, {@code MPI_FLOAT}, {@code MPI_SUM}, ...) are the
 * addresses of global objects ({@code ompi_mpi_comm_world}, ...), so they are looked up as symbols;
 * {@code MPI_IN_PLACE} is {@code (void *) 1} and {@code MPI_Request} a pointer. MPICH's ABI (handles
 * are ints) is not bound. Only the thread that opened it calls MPI ({@code MPI_THREAD_SINGLE} use of
 * the funneled model): kernels run on other threads but never communicate. The JVM's own signal
 * handlers stay in place: Open MPI installs its crash handlers only for signals nobody handles yet.
 */
public final class MpiCollective implements Collective {
    /** The Open MPI 3.x-5.x shared library's soname; {@code SFFN_MPI_LIB} overrides it. */
    static final String LIBRARY = "libmpi.so.40";
    private static final MemorySegment IN_PLACE = MemorySegment.ofAddress(1);
    private static final MemorySegment NULL = MemorySegment.NULL;

    private final MemorySegment comm;
    private final MemorySegment mpiFloat;
    private final MemorySegment mpiDouble;
    private final MemorySegment mpiByte;
    private final MemorySegment mpiInt64;
    private final MemorySegment opSum;
    private final MethodHandle allreduce;
    private final MethodHandle iallreduce;
    private final MethodHandle reduceScatter;
    private final MethodHandle allgather;
    private final MethodHandle allgatherv;
    private final MethodHandle bcast;
    private final MethodHandle barrier;
    private final MethodHandle abort;
    private final MethodHandle finalizeCall;
    private final MethodHandle test;
    private final MethodHandle waitCall;
    private final int rank;
    private final int size;
    private final String version;
    private boolean closed;

    private MpiCollective(SymbolLookup lib) throws Throwable {
        Linker linker = Linker.nativeLinker();
        comm = symbol(lib, "ompi_mpi_comm_world");
        mpiFloat = symbol(lib, "ompi_mpi_float");
        mpiDouble = symbol(lib, "ompi_mpi_double");
        mpiByte = symbol(lib, "ompi_mpi_byte");
        mpiInt64 = symbol(lib, "ompi_mpi_int64_t");
        opSum = symbol(lib, "ompi_mpi_op_sum");
        MethodHandle init = fn(linker, lib, "MPI_Init", JAVA_INT, ADDRESS, ADDRESS);
        MethodHandle initialized = fn(linker, lib, "MPI_Initialized", JAVA_INT, ADDRESS);
        MethodHandle commRank = fn(linker, lib, "MPI_Comm_rank", JAVA_INT, ADDRESS, ADDRESS);
        MethodHandle commSize = fn(linker, lib, "MPI_Comm_size", JAVA_INT, ADDRESS, ADDRESS);
        MethodHandle libVersion = fn(linker, lib, "MPI_Get_library_version", JAVA_INT, ADDRESS, ADDRESS);
        allreduce = fn(linker, lib, "MPI_Allreduce", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        iallreduce = fn(linker, lib, "MPI_Iallreduce", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        reduceScatter = fn(linker, lib, "MPI_Reduce_scatter", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        allgather = fn(linker, lib, "MPI_Allgather", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        allgatherv = fn(linker, lib, "MPI_Allgatherv", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS);
        bcast = fn(linker, lib, "MPI_Bcast", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        barrier = fn(linker, lib, "MPI_Barrier", JAVA_INT, ADDRESS);
        abort = fn(linker, lib, "MPI_Abort", JAVA_INT, ADDRESS, JAVA_INT);
        finalizeCall = fn(linker, lib, "MPI_Finalize", JAVA_INT);
        test = fn(linker, lib, "MPI_Test", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        waitCall = fn(linker, lib, "MPI_Wait", JAVA_INT, ADDRESS, ADDRESS);

        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            check((int) initialized.invokeExact(out), "MPI_Initialized");
            if (out.get(JAVA_INT, 0) == 0) check((int) init.invokeExact(NULL, NULL), "MPI_Init");
            check((int) commRank.invokeExact(comm, out), "MPI_Comm_rank");
            rank = out.get(JAVA_INT, 0);
            check((int) commSize.invokeExact(comm, out), "MPI_Comm_size");
            size = out.get(JAVA_INT, 0);
            MemorySegment text = a.allocate(4096);
            check((int) libVersion.invokeExact(text, out), "MPI_Get_library_version");
            String v = text.getString(0).strip();
            int comma = v.indexOf(',');
            version = comma > 0 ? v.substring(0, comma) : v;
        }
    }

    /**
     * Loads libmpi and joins the job that {@code mpirun} started.
     *
     * @throws IllegalStateException saying what to install when libmpi cannot be loaded
     */
    public static MpiCollective open() {
        String name = System.getenv().getOrDefault("SFFN_MPI_LIB", LIBRARY);
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(name, Arena.global());
        } catch (IllegalArgumentException e) {
            String mpich = Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libmpi.so.12"))
                    ? " (MPICH's libmpi.so.12 is there, but sffn binds Open MPI only)" : "";
            throw new IllegalStateException("this process was started by an MPI launcher, but " + name
                    + " (Open MPI's library) cannot be loaded" + mpich + ": install Open MPI"
                    + " ('apt-get install openmpi-bin libopenmpi-dev'), or set SFFN_MPI_LIB to the libmpi.so of the"
                    + " Open MPI whose mpirun started this job, or run without mpirun for one process");
        }
        try {
            return new MpiCollective(lib);
        } catch (IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("could not start MPI from " + name + ": " + t, t);
        }
    }

    private static MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new IllegalStateException("the MPI library has no symbol " + name
                + "; sffn binds Open MPI (3.x to 5.x), whose handles are such symbols; set SFFN_MPI_LIB to an Open MPI libmpi.so"));
    }

    private static MethodHandle fn(Linker linker, SymbolLookup lib, String name, java.lang.foreign.MemoryLayout ret,
                                   java.lang.foreign.MemoryLayout... args) {
        return linker.downcallHandle(symbol(lib, name), FunctionDescriptor.of(ret, args));
    }

    private void check(int rc, String call) {
        // Open MPI's default handler (MPI_ERRORS_ARE_FATAL) aborts before returning an error; this is the backstop.
        if (rc != 0) throw new IllegalStateException(call + " failed with MPI error code " + rc);
    }

    private static void checkStatic(int rc, String call) {
        if (rc != 0) throw new IllegalStateException(call + " failed with MPI error code " + rc);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public String describe() {
        return version + ", " + size + " ranks";
    }

    private static MemorySegment at(MemorySegment buf, long offset, long count) {
        return buf.asSlice(offset * Float.BYTES, count * Float.BYTES);
    }

    @Override
    public void allReduceSum(MemorySegment buf, long offset, int count) {
        try {
            check((int) allreduce.invokeExact(IN_PLACE, at(buf, offset, count), count, mpiFloat, opSum, comm), "MPI_Allreduce");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public Request allReduceSumAsync(MemorySegment buf, long offset, int count) {
        Arena owner = Arena.ofConfined();
        MemorySegment handle = owner.allocate(ADDRESS);
        try {
            check((int) iallreduce.invokeExact(IN_PLACE, at(buf, offset, count), count, mpiFloat, opSum, comm, handle),
                    "MPI_Iallreduce");
        } catch (Throwable t) {
            owner.close();
            throw rethrow(t);
        }
        return new MpiRequest(owner, handle);
    }

    private final class MpiRequest implements Request {
        private final Arena owner;
        private final MemorySegment handle;
        private boolean done;

        /** {@code handle} holds the MPI_Request; {@code owner} frees it once the operation has completed. */
        MpiRequest(Arena owner, MemorySegment handle) {
            this.owner = owner;
            this.handle = handle;
        }

        @Override
        public boolean test() {
            if (done) return true;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment flag = a.allocate(JAVA_INT);
                check((int) test.invokeExact(handle, flag, NULL), "MPI_Test");
                done = flag.get(JAVA_INT, 0) != 0;
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (done) owner.close();
            return done;
        }

        @Override
        public void await() {
            if (done) return;
            try {
                check((int) waitCall.invokeExact(handle, NULL), "MPI_Wait");
            } catch (Throwable t) {
                throw rethrow(t);
            }
            done = true;
            owner.close();
        }
    }

    @Override
    public void reduceScatterSum(MemorySegment buf, int[] counts) {
        checkCounts(counts);
        long offset = 0;
        for (int r = 0; r < rank; r++) offset += counts[r];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocateFrom(JAVA_INT, counts);
            check((int) reduceScatter.invokeExact(IN_PLACE, buf, c, mpiFloat, opSum, comm), "MPI_Reduce_scatter");
        } catch (Throwable t) {
            throw rethrow(t);
        }
        // In place, MPI leaves this rank's part at the start of the buffer; move it to its own place.
        MemorySegment.copy(buf, 0, buf, offset * Float.BYTES, (long) counts[rank] * Float.BYTES);
    }

    @Override
    public void allGather(MemorySegment buf, int[] counts) {
        checkCounts(counts);
        int[] displs = new int[size];
        for (int r = 1; r < size; r++) displs[r] = displs[r - 1] + counts[r - 1];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocateFrom(JAVA_INT, counts);
            MemorySegment d = a.allocateFrom(JAVA_INT, displs);
            check((int) allgatherv.invokeExact(IN_PLACE, 0, mpiFloat, buf, c, d, mpiFloat, comm), "MPI_Allgatherv");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private void checkCounts(int[] counts) {
        if (counts.length != size) throw new IllegalArgumentException(counts.length + " counts for " + size + " ranks");
    }

    @Override
    public void broadcast(MemorySegment buf, long bytes, int root) {
        try {
            check((int) bcast.invokeExact(buf, Math.toIntExact(bytes), mpiByte, root, comm), "MPI_Bcast");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public void barrier() {
        try {
            check((int) barrier.invokeExact(comm), "MPI_Barrier");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public double allReduceSum(double value) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocateFrom(JAVA_DOUBLE, value);
            check((int) allreduce.invokeExact(IN_PLACE, v, 1, mpiDouble, opSum, comm), "MPI_Allreduce");
            return v.get(JAVA_DOUBLE, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public long[] allGather(long value) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment send = a.allocateFrom(JAVA_LONG, value);
            MemorySegment recv = a.allocate(JAVA_LONG, size);
            check((int) allgather.invokeExact(send, 1, mpiInt64, recv, 1, mpiInt64, comm), "MPI_Allgather");
            return recv.toArray(JAVA_LONG);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public void abort(int code) {
        System.out.flush();
        System.err.flush();
        try {
            int ignored = (int) abort.invokeExact(comm, code);
        } catch (Throwable t) {
            // MPI_Abort does not return; if it somehow does, leave anyway.
        }
        Runtime.getRuntime().halt(code);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            checkStatic((int) finalizeCall.invokeExact(), "MPI_Finalize");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
