/* SPDX-License-Identifier: MIT */
/*
 * tern-passwd: create and update password files for password_file, with
 * mosquitto_passwd's command line, so the two tools and brokers share files.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "broker/alloc.h"
#include "broker/passwd.h"
#include "broker/readfile.h"

#define PASSWORD_MAX 1024
#define FILE_MAX     (64u << 20)

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tern-passwd [-H sha512-pbkdf2] [-I ITERATIONS] [-c | -D] FILE USER\n"
		"       tern-passwd [-H sha512-pbkdf2] [-I ITERATIONS] [-c] -b FILE USER PASSWORD\n"
		"       tern-passwd -U FILE\n"
		"Manage a password_file (mosquitto_passwd's format and options).\n\n"
		"  -b   batch mode: the password is on the command line (visible to other users)\n"
		"  -c   create FILE, overwriting an existing one\n"
		"  -D   delete USER from FILE\n"
		"  -H   hash type; only sha512-pbkdf2 ($7$) is written\n"
		"  -I   PBKDF2 iterations (default %d)\n"
		"  -U   hash every plain-text password in FILE (user:password lines)\n",
		TERN_PASSWD_ITERATIONS);
}

/* A password from the terminal (echo off), or from stdin when there is none. */
static int read_password(const char *prompt, char *buf, size_t cap)
{
	FILE *in = fopen("/dev/tty", "r+e");
	FILE *out = in ? in : stderr;
	struct termios old, quiet;
	bool restore = false;
	size_t n;
	int rc = 0;

	if (!in)
		in = stdin;
	if (isatty(fileno(in)) && tcgetattr(fileno(in), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fileno(in), TCSAFLUSH, &quiet) == 0;
	}
	fputs(prompt, out);
	fflush(out);
	if (!fgets(buf, (int)cap, in))
		rc = -EIO;
	if (restore) {
		tcsetattr(fileno(in), TCSAFLUSH, &old);
		fputc('\n', out);
	}
	if (in != stdin)
		fclose(in);
	if (rc < 0)
		return rc;
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n == cap - 1)
		return -E2BIG;
	return 0;
}

static int prompt_password(char *pw, size_t cap)
{
	char again[PASSWORD_MAX];
	int rc;

	if (read_password("Password: ", pw, cap) < 0 ||
	    read_password("Reenter password: ", again, sizeof(again)) < 0) {
		fprintf(stderr, "Error: cannot read the password.\n");
		return -EIO;
	}
	rc = strcmp(pw, again) == 0 ? 0 : -EINVAL;
	OPENSSL_cleanse(again, sizeof(again));
	if (rc < 0)
		fprintf(stderr, "Error: Passwords do not match.\n");
	else if (!*pw) {
		fprintf(stderr, "Error: Empty password.\n");
		rc = -EINVAL;
	}
	return rc;
}

/* Write data to path atomically: a temporary file in the same folder, then rename. */
static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd, n = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
	size_t done = 0;

	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		goto err;
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto err;
		done += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto err;
	}
	if (rename(tmp, path) < 0) {
		fd = -1;
		goto err;
	}
	return 0;
err:
	n = -errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return n;
}

/* Output buffer that grows. */
struct out {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *np = tern_realloc(o->p, cap);

		if (!np) {
			o->oom = true;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static int entry_line(struct out *o, const char *user, const char *pw, unsigned iterations)
{
	char hash[TERN_PASSWD_LINE_MAX];
	int rc = tern_passwd_hash((const uint8_t *)pw, strlen(pw), iterations, hash, sizeof(hash));

	if (rc < 0)
		return rc;
	put(o, user, strlen(user));
	put(o, ":", 1);
	put(o, hash, strlen(hash));
	put(o, "\n", 1);
	return 0;
}

static bool hashed(const char *s, size_t n)
{
	return n >= 3 && s[0] == '$' && (s[1] == '6' || s[1] == '7') && s[2] == '$';
}

/*
 * Rewrite the file's lines: the line of user replaced by its new entry
 * (password non-NULL) or dropped (NULL), or with user NULL every plain-text
 * line hashed (-U). Other lines are kept as they are. *found tells whether
 * user had a line.
 */
static int rewrite(const char *in, size_t len, const char *user, const char *pw,
		   unsigned iterations, struct out *o, bool *found)
{
	size_t ulen = user ? strlen(user) : 0, pos = 0;
	int rc;

	*found = false;
	while (pos < len) {
		const char *line = in + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		const char *colon = memchr(line, ':', n);

		pos += n + (nl ? 1 : 0);
		if (user && colon && (size_t)(colon - line) == ulen && !memcmp(line, user, ulen)) {
			*found = true;
			if (pw && (rc = entry_line(o, user, pw, iterations)) < 0)
				return rc;
			continue;
		}
		if (!user && colon && line[0] != '#' &&
		    !hashed(colon + 1, n - (size_t)(colon + 1 - line))) {
			char *u = tern_strndup(line, (size_t)(colon - line));
			char *p = tern_strndup(colon + 1, n - (size_t)(colon + 1 - line));

			rc = u && p ? entry_line(o, u, p, iterations) : -ENOMEM;
			if (p)
				OPENSSL_cleanse(p, strlen(p));
			tern_free(u);
			tern_free(p);
			if (rc < 0)
				return rc;
			continue;
		}
		put(o, line, n);
		put(o, "\n", 1);
	}
	if (user && pw && !*found)
		return entry_line(o, user, pw, iterations);
	return 0;
}

int main(int argc, char **argv)
{
	bool batch = false, create = false, del = false, upgrade = false, found;
	unsigned long iterations = TERN_PASSWD_ITERATIONS;
	char pwbuf[PASSWORD_MAX], errbuf[PATH_MAX + 128];
	const char *file, *user = NULL, *pw = NULL;
	char *in = NULL;
	size_t inlen = 0;
	struct out o = {0};
	mode_t mode, um;
	struct stat st;
	int opt, rc, want;

	while ((opt = getopt(argc, argv, "bcDH:I:Uh")) != -1) {
		switch (opt) {
		case 'b':
			batch = true;
			break;
		case 'c':
			create = true;
			break;
		case 'D':
			del = true;
			break;
		case 'H':
			if (strcmp(optarg, "sha512-pbkdf2") != 0) {
				fprintf(stderr, "Error: tern-passwd writes only sha512-pbkdf2.\n");
				return 1;
			}
			break;
		case 'I': {
			char *end;

			errno = 0;
			iterations = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || iterations == 0 ||
			    iterations > TERN_PASSWD_MAX_ITERATIONS) {
				fprintf(stderr, "Error: -I takes 1..%d.\n",
					TERN_PASSWD_MAX_ITERATIONS);
				return 1;
			}
			break;
		}
		case 'U':
			upgrade = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	want = upgrade ? 1 : batch ? 3 : 2;
	if ((create && del) || (upgrade && (create || del || batch)) || (batch && del) ||
	    argc - optind != want) {
		usage(stderr);
		return 1;
	}
	file = argv[optind];
	if (!upgrade) {
		user = argv[optind + 1];
		if (tern_passwd_username_valid(user) < 0) {
			fprintf(stderr, "Error: user name must be 1..%d bytes without ':'.\n",
				TERN_PASSWD_USERNAME_MAX);
			return 1;
		}
	}
	if (batch) {
		pw = argv[optind + 2];
	} else if (!upgrade && !del) {
		if (prompt_password(pwbuf, sizeof(pwbuf)) < 0)
			return 1;
		pw = pwbuf;
	}
	/* A new file gets the permissions the umask allows, as mosquitto_passwd's; an edited
	 * file keeps its own. */
	um = umask(0);
	umask(um);
	mode = 0666 & ~um;
	if (!create) {
		rc = tern_readfile(file, FILE_MAX, &in, &inlen, errbuf, sizeof(errbuf));
		if (rc < 0) {
			fprintf(stderr, "Error: cannot read %s.\n", errbuf);
			return 1;
		}
		if (stat(file, &st) == 0)
			mode = st.st_mode & 07777;
	}
	rc = rewrite(in ? in : "", inlen, user, pw, (unsigned)iterations, &o, &found);
	if (rc == 0 && o.oom)
		rc = -ENOMEM;
	if (rc == 0 && del && !found) {
		fprintf(stderr, "Error: user %s is not in %s.\n", user, file);
		rc = 1;
	} else if (rc == 0) {
		rc = write_file(file, o.p ? o.p : "", o.len, mode);
		if (rc < 0)
			fprintf(stderr, "Error: cannot write %s: %s.\n", file, strerror(-rc));
	} else {
		fprintf(stderr, "Error: %s.\n", strerror(-rc));
	}
	OPENSSL_cleanse(pwbuf, sizeof(pwbuf));
	if (in) {
		OPENSSL_cleanse(in, inlen);
		tern_free(in);
	}
	if (o.p) {
		OPENSSL_cleanse(o.p, o.cap);
		tern_free(o.p);
	}
	return rc == 0 ? 0 : 1;
}
