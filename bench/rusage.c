/*
 * Runs a command and records what it cost, the same way for every side of a comparison.
 *
 *   rusage OUTFILE COMMAND [ARGS...]
 *
 * Writes "user_us sys_us maxrss_kb status" (wait4's rusage of the child) to OUTFILE; exits
 * with the command's exit status (128 + signal if it was killed).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: rusage OUTFILE COMMAND [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) { perror("rusage: fork"); return 2; }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("rusage: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) { perror("rusage: wait4"); return 2; }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (f) {
        fprintf(f, "%lld %lld %ld %d\n",
                (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
                (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
                ru.ru_maxrss, code);
        fclose(f);
    }
    return code;
}
