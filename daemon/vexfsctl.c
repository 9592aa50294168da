// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl: the command-line tool for VexFS vector collections. This file
 * holds the usage text and picks the command; each command lives in its
 * own cmd_*.c file.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const char usage_text[] =
"Usage: vexfsctl [--json] COMMAND [ARGS]\n"
"\n"
"Collections:\n"
"  vexfsctl collection create DIR --dim N [--metric l2|ip|cosine]\n"
"  vexfsctl collection info DIR         (also: vexfsctl stats DIR)\n"
"  vexfsctl version PATH                ABI, capabilities and limits of the module\n"
"\n"
"The vector of one file in a collection:\n"
"  vexfsctl put FILE (--vector \"X1,X2,...\" | --vector-file F.fvecs|F.npy [--row R])\n"
"                [--id N] [--attr W=V]...\n"
"  vexfsctl get FILE\n"
"  vexfsctl del FILE                    removes the vector; the file stays\n"
"\n"
"Many vectors:\n"
"  vexfsctl import DIR DATA.fvecs|.bvecs|.npy|.csv|.jsonl [--format F]\n"
"                [--batch N] [--id-start N] [--attrs-from ATTRS.ivecs]\n"
"                [--resume] [-q]\n"
"  vexfsctl search DIR (--query \"X1,X2,...\" | --query-file F.fvecs|F.npy [--row R])\n"
"                [-k N] [--where EXPR] [--filter NAME] [--ef N] [--exact]\n"
"  vexfsctl recall DIR QUERIES.fvecs GROUNDTRUTH.ivecs [-k N] [--id-offset N]\n"
"                [--ef N] [--exact]\n"
"\n"
"The HNSW index of a collection (search uses it, and scans the rest exactly):\n"
"  vexfsctl index build DIR [--wait] [-q] [--socket PATH]\n"
"                                       vexfsd builds it when it is running\n"
"  vexfsctl index build DIR --local [--m N] [--ef-construction N] [--threads N]\n"
"                [--seed N] [--keep-pruned yes|no]\n"
"                                       build here (also when vexfsd is not\n"
"                                       running, or parameters are given)\n"
"  vexfsctl index status DIR [--socket PATH]\n"
"                                       counts, and what vexfsd is doing\n"
"  vexfsctl index drop DIR              search becomes exact\n"
"\n"
"BPF search filters (docs/filters.md):\n"
"  vexfsctl filter load FILE.bpf.o|NAME [--name N] [--set VAR=N]...\n"
"                                       attach and pin a filter\n"
"  vexfsctl filter list                 the filters pinned\n"
"  vexfsctl filter unload NAME          unpin it; detached when unused\n"
"\n"
"Telemetry, from the maps vexfs-telemetryd or vexfsd pinned (docs/telemetry.md):\n"
"  vexfsctl top [--once] [--interval MS] [--window] [--all] [--pin-dir DIR]\n"
"                                       rate, p50/p95/p99 and histogram of\n"
"                                       each operation, every second\n"
"  vexfsctl slow [--threshold-us N] [--op OP] [--duration S] [--count N]\n"
"                [--pin-dir DIR]        stream operations slower than N us\n"
"\n"
"Options:\n"
"  --json          machine-readable output on stdout, for every command\n"
"  -h, --help      this text\n"
"  --dim N         dimension of a new collection, 1..4096\n"
"  --metric M      l2 (squared Euclidean, the default), ip (negated inner\n"
"                  product) or cosine (1 - cosine similarity)\n"
"  --id N          user id of the vector (default: the file's inode number)\n"
"  --attr W=V      metadata word W (0..3) = V; repeat for several words\n"
"  --row R         row of the vector file, from 0 (default 0)\n"
"  --batch N       vectors per batch-insert call (default 1000, at most 65536)\n"
"  --id-start N    id of the first imported vector (default 1); each file is\n"
"                  named by its id\n"
"  --attrs-from F  metadata words of the imported vectors: an .ivecs file\n"
"                  with one row per vector and up to 4 non-negative columns\n""  --format F      fvecs, bvecs, npy, csv or jsonl, when the name does not\n"
"                  say. CSV: a header naming the columns id, attr0..attr3,\n"
"                  and either vector (\"1 2 3\" or \"[1,2,3]\") or one column per\n"
"                  component. JSON lines: {\"vector\": [...], \"id\": N,\n"
"                  \"attrs\": [...]} per line, other keys ignored (vexfsctl(8))\n"
"  --resume        skip rows an earlier, interrupted import made (same name,\n"
"                  vector, id and words); a row whose file differs stops it\n"
"  -q, --quiet     no progress display\n"
"  -k N            number of neighbours (default 10)\n"
"  --where EXPR    only files whose metadata word passes a test: attrW OP V,\n"
"                  OP one of = != < <= > >= & (all bits of V set) | (any bit\n"
"                  of V set); e.g. --where attr0=3  --where 'attr1>=5'\n"
"  --id-offset N   ground-truth id = result id - N (default 1, as import\n"
"                  numbers files from 1 and ground truth rows from 0)\n"
"  --wait          index build: wait for vexfsd to publish, showing progress\n"
"  --local         index build: build in this process, not in vexfsd\n"
"  --socket PATH   vexfsd's control socket (default $VEXFSD_SOCKET, else\n"
"                  /run/vexfs/vexfsd.sock)\n"
"\n"
"Exit status: 0 success, 1 failure, 2 wrong usage.\n";

/* In cmd_index.c, beside index build and drop. */
int cmd_index_status(int argc, char **argv);

void ctl_print_usage(FILE *f)
{
	fputs(usage_text, f);
}

struct command {
	const char *word;
	const char *sub;		/* second word, or NULL */
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "collection", "create", cmd_collection_create },
	{ "collection", "info", cmd_collection_info },
	{ "stats", NULL, cmd_collection_info },
	{ "version", NULL, cmd_version },
	{ "put", NULL, cmd_put },
	{ "get", NULL, cmd_get },
	{ "del", NULL, cmd_del },
	{ "import", NULL, cmd_import },
	{ "search", NULL, cmd_search },
	{ "recall", NULL, cmd_recall },
	{ "index", "build", cmd_index_build },
	{ "index", "status", cmd_index_status },
	{ "index", "drop", cmd_index_drop },
	{ "filter", "load", cmd_filter_load },
	{ "filter", "list", cmd_filter_list },
	{ "filter", "unload", cmd_filter_unload },
	{ "top", NULL, cmd_top },
	{ "slow", NULL, cmd_slow },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *word, const char *sub)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].word, word))
			continue;
		if (!commands[i].sub || (sub && !strcmp(commands[i].sub, sub)))
			return &commands[i];
	}
	return NULL;
}

static bool is_group(const char *word)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++)
		if (commands[i].sub && !strcmp(commands[i].word, word))
			return true;
	return false;
}

/* Options before the command: --json and --help. */
static int parse_global_options(int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_OPTIONS, { 0 } };
	int opt, rc;

	/* "+": stop at the command word, its options are its own. */
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	if (optind == argc) {
		ctl_print_usage(stderr);
		return CTL_USAGE;
	}
	return CTL_CONTINUE;
}

int main(int argc, char **argv)
{
	static char name[64];
	const struct command *cmd;
	const char *sub;
	int rc, first;

	rc = parse_global_options(argc, argv);
	if (rc != CTL_CONTINUE)
		return rc;
	first = optind;
	sub = first + 1 < argc ? argv[first + 1] : NULL;
	cmd = find_command(argv[first], sub);
	if (!cmd && is_group(argv[first])) {
		ctl.cmd = argv[first];
		return sub ? ctl_usage_error("unknown subcommand '%s'", sub) :
			     ctl_usage_error("which one? (create or info)");
	}
	if (!cmd)
		return ctl_usage_error("unknown command '%s'", argv[first]);
	snprintf(name, sizeof(name), "%s%s%s", cmd->word, cmd->sub ? " " : "",
		 cmd->sub ? cmd->sub : "");
	ctl.cmd = name;
	if (cmd->sub)
		first++;
	optind = 0;	/* glibc: start a fresh scan of the command's argv */
	return cmd->run(argc - first, argv + first);
}
