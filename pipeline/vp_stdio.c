#include "vp_stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int vp_stdio_reserve(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* the lowest free descriptor: fd itself, as every one below it is open */
		int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (nfd < 0)
			return -errno;
		if (nfd != fd) {
			int rc = dup2(nfd, fd);
			close(nfd);
			if (rc < 0)
				return -errno;
		}
	}
	return 0;
}
