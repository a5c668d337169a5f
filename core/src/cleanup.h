/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cleanup attributes (systemd/libvirt style) so that error paths need no goto ladders.
 */
#ifndef VT_CLEANUP_H
#define VT_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>

static inline void vtc_freep(void *p)
{
	free(*(void **)p);
}

static inline void vtc_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void vtc_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(fn) __attribute__((cleanup(fn)))
#define _cleanup_free_ _cleanup_(vtc_freep)
#define _cleanup_close_ _cleanup_(vtc_closep)
#define _cleanup_fclose_ _cleanup_(vtc_fclosep)

/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

#endif
