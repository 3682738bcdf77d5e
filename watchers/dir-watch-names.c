/* dir-watch-names.c: which file names a directory watch treats as noise.
 * Pure. */
#include "watchers-internal.h"

/* .NAME.swp and friends: vim's swap files (.swo, .swn when one exists
 * already) and .swx, the file it creates to test that it may write. */
static bool is_vim_swap(const char *name, size_t len)
{
        static const char *const ext[] = {".swp", ".swo", ".swn", ".swx"};

        if (name[0] != '.' || len < 6)
                return false;
        for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
                if (str_has_suffix(name, ext[i]))
                        return true;
        }
        return false;
}

bool dir_watch_name_is_noise(const char *name)
{
        size_t len = name ? strlen(name) : 0;

        if (len == 0)
                return false;
        return is_vim_swap(name, len) ||
               /* backups: vim, emacs, nano */
               name[len - 1] == '~' ||
               /* emacs: lock files (symlinks) and auto-saves */
               str_has_prefix(name, ".#") || (len > 2 && name[0] == '#' && name[len - 1] == '#') ||
               /* vim's probe for whether it may create files here */
               streq(name, "4913") || str_has_suffix(name, ".tmp") ||
               /* GLib/GIO's atomic replace (gedit, ...) */
               str_has_prefix(name, ".goutputstream-") ||
               /* JetBrains' safe write */
               str_has_suffix(name, "___jb_tmp___") || str_has_suffix(name, "___jb_old___");
}
