/*
 * A stand-in for OpenVZ 7's `ve` cgroup, for the test rig only (scripts/build-vzctl7
 * builds it; tests/harness/vz7ns activates it through /etc/ld.so.preload inside a
 * private mount namespace). Never part of vzzfs.
 *
 * Why: libvzctl decides whether a CT runs from the vz7 kernel's `ve` cgroup
 * (lib/cgroup.c get_mount_path, cg_env_get_ve_state): it scans /proc/mounts with
 * fopen() for a mount of type cgroup whose options hold the bare token `ve`, then
 * reads MOUNT/CTID/ve.state (missing or STOPPED: stopped; anything else: running).
 * An upstream kernel has no such hierarchy and cannot show one (a named hierarchy
 * shows `name=ve`), and with none libvzctl counts every CT as running, so `vzctl
 * umount` is refused. The real thing needs the vz7 kernel; this library adds one
 * line to what fopen("/proc/mounts") returns,
 *     cgroup VE_CGROUP_DIR cgroup rw,nosuid,nodev,noexec,relatime,ve 0 0
 * where VE_CGROUP_DIR is a plain directory (bound per namespace by vz7ns) whose
 * CTID/ve.state files a test writes to say "running" or "stopped".
 *
 * libvzctl runs its helpers with a scrubbed environment, so LD_PRELOAD would not
 * reach them (nor the hooks' own vzctl calls): /etc/ld.so.preload does, and
 * vz7ns binds one over it in its namespace only. Every other file, and every
 * other way of reading the mount table (open(), /proc/self/mountinfo, glibc's own
 * setmntent), is left alone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef VE_CGROUP_DIR
#error "build with -DVE_CGROUP_DIR=\\\"/path\\\" (scripts/build-vzctl7 does)"
#endif

static const char PROC_MOUNTS[] = "/proc/mounts";
static const char VE_LINE[] = "cgroup " VE_CGROUP_DIR " cgroup rw,nosuid,nodev,noexec,relatime,ve 0 0\n";

typedef FILE *(*fopen_fn)(const char *, const char *);

/* The real /proc/mounts with VE_LINE appended, as a stream on an anonymous file
 * (freed with the stream); NULL with errno set on failure. */
static FILE *mounts_with_ve(fopen_fn real, const char *mode)
{
	char buf[65536];
	size_t n;
	int fd, eno;
	FILE *in, *out;

	in = real(PROC_MOUNTS, mode);
	if (in == NULL)
		return NULL;
	fd = memfd_create("vz7-proc-mounts", MFD_CLOEXEC);
	if (fd < 0) {
		eno = errno;
		fclose(in);
		errno = eno;
		return NULL;
	}
	out = fdopen(fd, "w+");
	if (out == NULL) {
		eno = errno;
		close(fd);
		fclose(in);
		errno = eno;
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fputs(VE_LINE, out);
	if (fflush(out) || fseek(out, 0, SEEK_SET)) {
		eno = errno;
		fclose(out);
		errno = eno;
		return NULL;
	}
	return out;
}

static FILE *hooked(const char *name, const char *path, const char *mode)
{
	fopen_fn real = (fopen_fn)dlsym(RTLD_NEXT, name);

	if (real == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	if (path != NULL && mode != NULL && mode[0] == 'r' && strchr(mode, '+') == NULL &&
	    strcmp(path, PROC_MOUNTS) == 0)
		return mounts_with_ve(real, mode);
	return real(path, mode);
}

/* libvzctl is built with -D_FILE_OFFSET_BITS=64, so its fopen() calls are fopen64() */
FILE *fopen(const char *path, const char *mode)
{
	return hooked("fopen", path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	return hooked("fopen64", path, mode);
}
