"""A CT's private area laid out for OpenVZ 7's vzctl, and its files moved between the
two layouts of the zvol's ext4.

OpenVZ 7's vzctl (layout 4, "simfs") reads VE_PRIVATE/.ve.layout, runs the CT's
own action scripts from VE_PRIVATE/scripts/ as root on the host, keeps dumps in
VE_PRIVATE/dump/, its lock in VE_PRIVATE/.lck and the conf in VE_PRIVATE/ve.conf,
and bind-mounts VE_PRIVATE/fs on VE_ROOT. A CT's ext4 is not trusted (its root, a
backup, a peer or a template wrote it), so none of that may come from the zvol:
VE_PRIVATE stays a host directory and the zvol's ext4 is mounted below it, on
VE_PRIVATE/disk, with the CT's files in its fs/ directory and VE_PRIVATE/fs a
symlink to disk/fs. vzctl 7 tells a layout-4 CT is mounted by comparing mountinfo
root fields, which is right for this shape and wrong when fs itself is a mount
point (a second mount would stack another bind, umount would say "not mounted").

``prepare`` makes or checks the host side before the mount; ``check_mounted``
proves after it that fs resolves to a real directory on the zvol's own file
system (a symlink planted in the ext4 would otherwise bind the host's / into the
CT). ``into_fs_dir`` and ``out_of_fs_dir`` move a CT's files between the ext4's
top (vzctl 4.x) and its fs/ directory (OpenVZ 7) by renames, never copies, and
finish a move a crash cut short.
"""

import os
import stat

from ..base import names
from ..base.errors import FsError

# the staging directory of a move between the layouts, at the ext4's top
STAGING = ".vzzfs-relayout"
LOST_FOUND = "lost+found"  # e2fsck's, stays at the top in both layouts


def _lstat(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _refuse(ct, what, fix):
    raise FsError("%s (OpenVZ 7 layout of %s)" % (what, ct.ve_private), fix, ctid=ct.ctid)


def _host_dir(ct, path, mode):
    st = _lstat(path)
    if st is None:
        os.mkdir(path, mode)
    elif not stat.S_ISDIR(st.st_mode):
        _refuse(ct, "%s is not a directory" % path,
                "move it away; vzzfs makes %s a directory of the host" % path)


def prepare(ct):
    """Make (or check) VE_PRIVATE's host side for OpenVZ 7 before the zvol is mounted:
    VE_PRIVATE a real directory, .ve.layout -> 4, scripts/ and dump/ directories of the
    host, disk/ the mount point, fs -> disk/fs. Refuses, changing nothing more, where
    something else is there. Idempotent; what vzctl 7 keeps there (.lck, ve.conf, a
    running marker) is left alone."""
    private = ct.ve_private
    st = _lstat(private)
    if st is None:
        os.makedirs(private, 0o700)
    elif not stat.S_ISDIR(st.st_mode):
        _refuse(ct, "VE_PRIVATE %s is not a directory" % private,
                "move it away; under OpenVZ 7 VE_PRIVATE is a directory of the host")
    layout = os.path.join(private, names.VZ7_LAYOUT_LINK)
    st = _lstat(layout)
    if st is None:
        os.symlink(names.VZ7_LAYOUT, layout)
    elif not stat.S_ISLNK(st.st_mode) or os.readlink(layout) != names.VZ7_LAYOUT:
        _refuse(ct, "%s is not a symlink to %s" % (layout, names.VZ7_LAYOUT),
                "a zvol CT is layout 4: ln -sfn %s %s" % (names.VZ7_LAYOUT, layout))
    for sub in names.VZ7_HOST_DIRS:
        _host_dir(ct, os.path.join(private, sub), 0o700)
    _host_dir(ct, ct.mountpoint, 0o700)
    link = os.path.join(private, names.VZ7_FS_LINK)
    st = _lstat(link)
    if st is None:
        os.symlink(names.VZ7_FS_TARGET, link)
    elif stat.S_ISDIR(st.st_mode) and not os.listdir(link):
        os.rmdir(link)  # vzctl create's empty fs/: the CT's files live on the zvol
        os.symlink(names.VZ7_FS_TARGET, link)
    elif not stat.S_ISLNK(st.st_mode) or os.readlink(link) != names.VZ7_FS_TARGET:
        _refuse(ct, "%s is not the symlink to %s" % (link, names.VZ7_FS_TARGET),
                "move it away (its files would shadow the zvol's); vzzfs makes it a "
                "symlink to %s" % names.VZ7_FS_TARGET)


def check_mounted(ct, devno):
    """After the zvol (its st_rdev, ``devno``) is mounted on VE_PRIVATE/disk: fs must
    resolve to the real directory disk/fs on the zvol's own file system, and what vzctl 7
    runs or reads (scripts/, .ve.layout) must still be the host's. FsError otherwise;
    the caller unmounts."""
    files = ct.files
    st = _lstat(files)
    if st is None:
        _refuse(ct, "the zvol's ext4 has no %s/ directory: its files are laid out for "
                "vzctl 4.x" % names.VZ7_CT_DIR,
                "lay it out for this node with the CT stopped: vzzfs relayout %s" % ct.ctid)
    if not stat.S_ISDIR(st.st_mode) or st.st_dev != devno:
        _refuse(ct, "%s on the zvol is not a directory of its own (a symlink or a mount "
                "planted in the CT's file system)" % files,
                "inspect the zvol's ext4 from a snapshot (vzzfs snapshot-mount %s) and "
                "remove it" % ct.ctid)
    link = os.path.join(ct.ve_private, names.VZ7_FS_LINK)
    if os.path.realpath(link) != os.path.realpath(files) \
            or os.path.realpath(files) != os.path.join(os.path.realpath(ct.mountpoint),
                                                       names.VZ7_CT_DIR):
        _refuse(ct, "%s does not resolve to %s" % (link, files),
                "make it the symlink %s -> %s" % (link, names.VZ7_FS_TARGET))
    for sub in names.VZ7_HOST_DIRS + (names.VZ7_LAYOUT_LINK,):
        path = os.path.join(ct.ve_private, sub)
        st = _lstat(path)
        if st is not None and st.st_dev == devno:
            _refuse(ct, "%s is on the zvol" % path, "move it away from the zvol")


def _entries(top):
    return sorted(e for e in os.listdir(top) if e not in (LOST_FOUND, STAGING))


def into_fs_dir(top, resuming=False):
    """Move the CT's files from the top of the ext4 mounted at ``top`` into its fs/
    directory (vzctl 4.x layout -> OpenVZ 7's). A CT's own /fs moves with the rest.
    Renames only; a rerun after a crash (``resuming``: the zvol says a move began)
    finishes the move. Returns the entries moved."""
    staging = os.path.join(top, STAGING)
    if not os.path.lexists(staging):
        if resuming and _entries(top) == [names.VZ7_CT_DIR]:
            return []  # the last rename was done; only the record of it was not
        os.mkdir(staging, 0o755)
    moved = _entries(top)
    for entry in moved:
        os.rename(os.path.join(top, entry), os.path.join(staging, entry))
    os.rename(staging, os.path.join(top, names.VZ7_CT_DIR))
    return moved


def out_of_fs_dir(top, resuming=False):
    """Move the CT's files from the ext4's fs/ directory up to its top (OpenVZ 7 layout
    -> vzctl 4.x's). Renames only; a rerun after a crash (``resuming``) finishes the
    move. An entry of the CT named like one at the top (its own lost+found) stays in
    the staging directory and is named in the FsError raised."""
    staging = os.path.join(top, STAGING)
    fs_dir = os.path.join(top, names.VZ7_CT_DIR)
    if not os.path.lexists(staging):
        if resuming and _entries(top) != [names.VZ7_CT_DIR]:
            return []  # the staging directory was removed: the move was done
        st = _lstat(fs_dir)
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise FsError("%s is not a directory: nothing laid out for OpenVZ 7 there" % fs_dir,
                          "check the zvol's ext4")
        os.rename(fs_dir, staging)
    moved, clash = [], []
    for entry in sorted(os.listdir(staging)):
        if os.path.lexists(os.path.join(top, entry)):
            clash.append(entry)
            continue
        os.rename(os.path.join(staging, entry), os.path.join(top, entry))
        moved.append(entry)
    if clash:
        raise FsError("%s left in %s: the top of the ext4 has them already"
                      % (", ".join(clash), staging),
                      "move them by hand, then run the command again")
    os.rmdir(staging)
    return moved


def remove_host_side(ct):
    """Undo ``prepare``: remove what it made where it is still exactly that (the links
    with their targets, empty directories), then VE_PRIVATE if nothing else is left.
    vzctl 7's own files (ve.conf, .lck) and anything else stay, and keep VE_PRIVATE."""
    from ..system import ext4
    private = ct.ve_private
    ext4.remove_guarded(ct.mountpoint)
    for name, target in ((names.VZ7_FS_LINK, names.VZ7_FS_TARGET),
                         (names.VZ7_LAYOUT_LINK, names.VZ7_LAYOUT)):
        path = os.path.join(private, name)
        if os.path.islink(path) and os.readlink(path) == target:
            os.unlink(path)
    for sub in names.VZ7_HOST_DIRS:
        path = os.path.join(private, sub)
        if os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path):
            os.rmdir(path)
    if os.path.isdir(private) and not os.listdir(private):
        os.rmdir(private)


def host_side_leftovers(ct):
    """What VE_PRIVATE holds besides what ``prepare`` makes, vzctl 7's lock and the conf:
    files of the admin's (a CT's own scripts, dumps) that a move back to vzctl 4.x's
    layout would have to leave somewhere."""
    private = ct.ve_private
    found = []
    for entry in sorted(os.listdir(private)) if os.path.isdir(private) else []:
        path = os.path.join(private, entry)
        if entry in names.VZ7_HOST_DIRS:
            found += [os.path.join(entry, e) for e in sorted(os.listdir(path))]
        elif entry not in (names.VZ7_FS_LINK, names.VZ7_LAYOUT_LINK, names.VZ7_DISK_DIR,
                           names.VZ7_CONF, ".lck"):
            found.append(entry)
    return found
