// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl: the command-line tool for VexFS vector collections. This file
 * holds the usage text and picks the command; each command lives in its
 * own cmd_*.c file.
 */
#include <stdio.h>
#include <string.h>

#include "vexfsctl.h"

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
"                [--attrs] [--vectors] [--threads N]\n"
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

void ctl_print_usage(FILE *f)
{
	fputs(usage_text, f);
}

struct command {
	const char *word;
	const char *sub;		/* second word, or NULL */
	int (*run)(int argc, char **argv);
	const char *usage;		/* its own --help: synopsis, then example */
};

static const struct command commands[] = {
	{ "collection", "create", cmd_collection_create,
	  "collection create DIR --dim N [--metric l2|ip|cosine]\n"
	  "  Make the directory DIR a collection of N-dimensional vectors.\n"
	  "Example: vexfsctl collection create /mnt/v/sift --dim 128 --metric l2\n" },
	{ "collection", "info", cmd_collection_info,
	  "collection info DIR\n"
	  "  Dimension, metric, vectors, slots, indexed and unindexed counts.\n"
	  "Example: vexfsctl collection info /mnt/v/sift\n" },
	{ "stats", NULL, cmd_collection_info,
	  "stats DIR\n"
	  "  The same as collection info.\n"
	  "Example: vexfsctl --json stats /mnt/v/sift\n" },
	{ "version", NULL, cmd_version,
	  "version PATH\n"
	  "  ABI version, capabilities and limits of the module behind PATH.\n"
	  "Example: vexfsctl version /mnt/v\n" },
	{ "put", NULL, cmd_put,
	  "put FILE (--vector \"X1,X2,...\" | --vector-file F.fvecs|F.npy [--row R])\n"
	  "         [--id N] [--attr W=V]...\n"
	  "  Set the vector of FILE, in a collection, with its id and metadata words.\n"
	  "Example: vexfsctl put /mnt/v/docs/a.txt --vector 0.1,0.2,0.3,0.4 --attr 0=3\n" },
	{ "get", NULL, cmd_get,
	  "get FILE\n"
	  "  Print the vector, id and metadata words of FILE.\n"
	  "Example: vexfsctl get /mnt/v/sift/42\n" },
	{ "del", NULL, cmd_del,
	  "del FILE\n"
	  "  Remove the vector of FILE; the file stays.\n"
	  "Example: vexfsctl del /mnt/v/sift/42\n" },
	{ "import", NULL, cmd_import,
	  "import DIR DATA.fvecs|.bvecs|.npy|.csv|.jsonl [--format F] [--batch N]\n"
	  "         [--id-start N] [--attrs-from ATTRS.ivecs] [--resume | --upsert] [-q]\n"
	  "  One file per row of DATA in the collection DIR, named by its id;\n"
	  "  --upsert replaces the vectors of the files that exist, keeping their ids.\n"
	  "  DATA - reads CSV or JSON lines (--format) from standard input.\n"
	  "Example: vexfsctl import /mnt/v/sift sift5k_base.fvecs --batch 1000\n" },
	{ "search", NULL, cmd_search,
	  "search DIR (--query \"X1,X2,...\" | --query-file F.fvecs|F.npy [--row R])\n"
	  "         [-k N] [--where EXPR] [--filter NAME] [--ef N] [--exact]\n"
	  "         [--attrs] [--vectors] [--threads N]\n"
	  "  The k nearest files of the collection DIR, best first: for the query,\n"
	  "  or for every row of F (--row R: that row only), in one call per thread\n"
	  "  (--threads, default one per CPU). --attrs and --vectors show each\n"
	  "  result's metadata words and vector.\n"
	  "Example: vexfsctl search /mnt/v/sift --query-file sift5k_query.fvecs --row 0 -k 5 --where attr0=3\n" },
	{ "recall", NULL, cmd_recall,
	  "recall DIR QUERIES.fvecs GROUNDTRUTH.ivecs [-k N] [--id-offset N]\n"
	  "         [--ef N] [--exact]\n"
	  "  Recall@k of the collection's search against exact ground truth.\n"
	  "Example: vexfsctl recall /mnt/v/sift sift5k_query.fvecs sift5k_groundtruth.ivecs\n" },
	{ "index", "build", cmd_index_build,
	  "index build DIR [--wait] [-q] [--socket PATH]\n"
	  "index build DIR --local [--m N] [--ef-construction N] [--threads N]\n"
	  "         [--seed N] [--keep-pruned yes|no]\n"
	  "  Build and publish the HNSW index: by vexfsd when it runs, else here.\n"
	  "Example: vexfsctl index build /mnt/v/sift --local --threads 2\n" },
	{ "index", "status", cmd_index_status,
	  "index status DIR [--socket PATH]\n"
	  "  Indexed and unindexed counts, and what vexfsd is doing.\n"
	  "Example: vexfsctl index status /mnt/v/sift\n" },
	{ "index", "drop", cmd_index_drop,
	  "index drop DIR\n"
	  "  Forget the index: search becomes exact.\n"
	  "Example: vexfsctl index drop /mnt/v/sift\n" },
	{ "index", "write", cmd_index_write,
	  "index write DATA.fvecs|.bvecs|.npy GRAPH [--metric l2|ip|cosine] [--m N]\n"
	  "         [--ef-construction N] [--threads N] [--seed N] [--keep-pruned yes|no]\n"
	  "  Build here the HNSW index of DATA's rows, as imported in order into a\n"
	  "  fresh collection, and write it to GRAPH, for index publish.\n"
	  "Example: vexfsctl index write big_base.fvecs big.hnsw --metric cosine\n" },
	{ "index", "publish", cmd_index_publish,
	  "index publish DIR GRAPH [--rows DATA]\n"
	  "  Publish the index in GRAPH (index write) for the collection DIR;\n"
	  "  --rows first checks that slot i holds row i of DATA.\n"
	  "Example: vexfsctl index publish /mnt/v/big big.hnsw --rows big_base.fvecs\n" },
	{ "filter", "load", cmd_filter_load,
	  "filter load FILE.bpf.o|NAME [--name N] [--set VAR=N]...\n"
	  "  Attach and pin a BPF search filter.\n"
	  "Example: vexfsctl filter load range --name r50 --set hi=50\n" },
	{ "filter", "list", cmd_filter_list,
	  "filter list\n"
	  "  The filters pinned.\n"
	  "Example: vexfsctl filter list\n" },
	{ "filter", "unload", cmd_filter_unload,
	  "filter unload NAME\n"
	  "  Unpin a filter; it is detached when no search uses it.\n"
	  "Example: vexfsctl filter unload r50\n" },
	{ "top", NULL, cmd_top,
	  "top [--once] [--interval MS] [--window] [--all] [--pin-dir DIR]\n"
	  "  Rate, p50/p95/p99 and histogram of each operation, every second.\n"
	  "Example: vexfsctl top --once\n" },
	{ "slow", NULL, cmd_slow,
	  "slow [--threshold-us N] [--op OP] [--duration S] [--count N] [--pin-dir DIR]\n"
	  "  Stream the operations slower than N microseconds.\n"
	  "Example: vexfsctl slow --threshold-us 500 --duration 10\n" },
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

/* -h or --help among a command's arguments (before a "--"). */
static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

/* The usage of every command named word (one, or a group's). */
static void print_command_usage(FILE *f, const char *word, const char *sub)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].word, word) &&
		    (!sub || !commands[i].sub || !strcmp(commands[i].sub, sub)))
			fprintf(f, "Usage: vexfsctl [--json] %s", commands[i].usage);
	fputs("Options of every command: vexfsctl --help.\n", f);
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
		if (wants_help(argc - first, argv + first)) {
			print_command_usage(stdout, argv[first], NULL);
			return CTL_OK;
		}
		print_command_usage(stderr, argv[first], NULL);
		return sub ? ctl_usage_error("unknown subcommand '%s'", sub) :
			     ctl_usage_error("which one?");
	}
	if (!cmd)
		return ctl_usage_error("unknown command '%s'", argv[first]);
	if (wants_help(argc - first, argv + first)) {
		print_command_usage(stdout, cmd->word, cmd->sub);
		return CTL_OK;
	}
	snprintf(name, sizeof(name), "%s%s%s", cmd->word, cmd->sub ? " " : "",
		 cmd->sub ? cmd->sub : "");
	ctl.cmd = name;
	if (cmd->sub)
		first++;
	optind = 0;	/* glibc: start a fresh scan of the command's argv */
	return cmd->run(argc - first, argv + first);
}
