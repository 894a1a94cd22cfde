package sffn.nn.io;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * Words for the operating system's I/O failures: Java's exceptions often carry only a path
 * ({@code AccessDeniedException: /x}) or only a cause ({@code No space left on device}); the
 * user needs both.
 */
public final class IoErrors {
    private IoErrors() {
    }

    /** "path: cause" for an I/O failure, whatever the exception says by itself. */
    public static String describe(IOException e) {
        if (e instanceof FileSystemException f) {
            String path = f.getFile() == null ? "" : f.getFile() + (f.getOtherFile() == null ? "" : " -> " + f.getOtherFile());
            String reason = f.getReason() != null ? f.getReason()
                    : f instanceof AccessDeniedException ? "permission denied"
                    : f instanceof NoSuchFileException ? "no such file or directory"
                    : f instanceof FileAlreadyExistsException ? "already exists"
                    : f instanceof DirectoryNotEmptyException ? "directory not empty"
                    : f instanceof NotDirectoryException ? "not a directory"
                    : f.getClass().getSimpleName();
            return path.isEmpty() ? reason : path + ": " + reason;
        }
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }
}
