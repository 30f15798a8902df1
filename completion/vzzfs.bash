# bash completion for vzzfs(8): verbs, their options, CTIDs and template names.
_vzzfs_ctids() {
    local f
    for f in /etc/vz/conf/*.conf; do
        f=${f##*/}; f=${f%.conf}
        case "$f" in ''|*[!0-9]*) ;; *) echo "$f" ;; esac
    done
}

_vzzfs_tarballs() {
    local f
    for f in /vz/template/cache/*.tar*; do
        [ -e "$f" ] || continue
        f=${f##*/}; echo "${f%%.tar*}"
    done
}

_vzzfs() {
    local cur prev verb i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    verb=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --etc-dir) ((i++)) ;;
            -*) ;;
            *) verb=${COMP_WORDS[i]}; break ;;
        esac
    done
    case "$prev" in
        --etc-dir|--confdir|--hookdir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --ostemplate) COMPREPLY=($(compgen -W "$(_vzzfs_tarballs)" -- "$cur")); return ;;
        --sparse) COMPREPLY=($(compgen -W "yes no" -- "$cur")); return ;;
        --dedup) COMPREPLY=($(compgen -W "on off" -- "$cur")); return ;;
    esac
    local opts
    case "$verb" in
        '') COMPREPLY=($(compgen -W "list check create clone convert destroy resize reconcile set-limits trim attach detach relayout template
                snapshot snapshot-list snapshot-delete snapshot-switch snapshot-mount
                snapshot-umount autosnap backup restore send replicate takeover demote metrics receive receive-dump migrate install-hooks uninstall-hooks --etc-dir --version --help" \
                -- "$cur")); return ;;
        list) opts="-o --output -j --json" ;;
        create) opts="--ostemplate --diskspace --diskinodes --config --hostname --ipadd
                --volblocksize --compression --dedup --sparse" ;;
        clone) opts="--snapshot --hostname --ipadd" ;;
        destroy) opts="--promote" ;;
        convert) opts="--diskspace --purge" ;;
        trim) opts="--all" ;;
        set-limits) opts="--iolimit --iopslimit" ;;
        snapshot) opts="--name --skip-suspend --dump" ;;
        snapshot-list) opts="-j --json" ;;
        snapshot-switch) opts="--destroy-newer --skip-config --skip-resume" ;;
        backup) opts="--to --incremental --retain --plain" ;;
        restore) opts="--ctid --force" ;;
        send) opts="--to" ;;
        check) opts="--nagios --snapshot-age --replication-lag" ;;
        metrics) opts="--textfile" ;;
        takeover) opts="--peer" ;;
        demote) opts="--destroy-newer" ;;
        receive) opts="--ctid --force --status --then-receive --abort --forced-command" ;;
        migrate) opts="--online --check" ;;
        install-hooks) opts="--confdir --hookdir" ;;
        uninstall-hooks) opts="--confdir --force" ;;
        template)
            if [ "$prev" = template ]; then
                COMPREPLY=($(compgen -W "import list remove" -- "$cur"))
            elif [ "$prev" = import ]; then
                COMPREPLY=($(compgen -W "$(_vzzfs_tarballs)" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "--size --diskinodes -j --json" -- "$cur"))
            fi
            return ;;
        *) opts= ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$(_vzzfs_ctids)" -- "$cur"))
    fi
}
complete -F _vzzfs vzzfs
