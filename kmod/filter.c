// SPDX-License-Identifier: GPL-2.0
/*
 * BPF search filters: the struct_ops type vexfs_filter_ops.
 *
 * A filter is a BPF struct_ops map whose admit() program decides, for
 * each search candidate, whether it may be returned. Attaching the map
 * (through a link) calls vexfs_filter_reg(), which files the filter under
 * its name in a list; a search looks the name up once and calls admit()
 * for every candidate it considers. Detaching (the last reference to the
 * link going away) calls vexfs_filter_unreg().
 *
 * Searches sleep between chunks, so a filter in use is protected by SRCU
 * rather than RCU: the lookup takes the read lock and the search holds it
 * until its last candidate. unreg unlinks the filter and waits for every
 * such reader with synchronize_srcu() before returning, and only after
 * unreg does the BPF core release the programs and the trampoline. A
 * search in flight therefore never calls into a freed filter; the next
 * search with the same name fails with -ENOENT.
 *
 * An attached filter's map holds a reference on this module, so the
 * module cannot be removed while any filter is attached.
 *
 * If the type cannot be registered (a kernel without BPF struct_ops
 * support, or without the module's BTF), the filesystem loads anyway;
 * searches that name a filter fail with -EOPNOTSUPP.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bpf.h>
#include <linux/bpf_verifier.h>
#include <linux/btf.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/string.h>
#include "vexfs.h"
#include "collection.h"
#include "filter.h"

/* One attached filter. The ops are the BPF core's copy (its kdata). */
struct vexfs_filter {
	struct list_head node;
	struct vexfs_filter_ops *ops;
};

static LIST_HEAD(vexfs_filters);		/* under vexfs_filter_lock; srcu */
static DEFINE_MUTEX(vexfs_filter_lock);
DEFINE_STATIC_SRCU(vexfs_filter_srcu);
static bool vexfs_filter_registered;

static_assert(VEXFS_FILTER_ATTR_WORDS == VEXFS_ATTR_WORDS);
static_assert(sizeof(struct vexfs_filter_ctx) == 64);

/* ==== calling a filter ==== */

bool vexfs_filter_admit(const struct vexfs_filter_ops *ops,
			const struct vexfs_slot *s)
{
	struct vexfs_filter_ctx ctx = {
		.id = s->id,
		.ino = s->ino,
		.uid = from_kuid_munged(&init_user_ns, s->uid),
		.gid = from_kgid_munged(&init_user_ns, s->gid),
		.mode = s->mode,
	};

	memcpy(ctx.attrs, s->attrs, sizeof(ctx.attrs));
	/* Any non-zero value admits: no return value can do harm. */
	return ops->admit(&ctx) != 0;
}

int vexfs_filter_get(const char *name, const struct vexfs_filter_ops **ops,
		     int *cookie)
{
	struct vexfs_filter *f;
	int idx;

	if (!vexfs_filter_registered)
		return -EOPNOTSUPP;
	idx = srcu_read_lock(&vexfs_filter_srcu);
	list_for_each_entry_srcu(f, &vexfs_filters, node,
				 srcu_read_lock_held(&vexfs_filter_srcu)) {
		if (!strcmp(f->ops->name, name)) {
			*ops = f->ops;
			*cookie = idx;
			return 0;
		}
	}
	srcu_read_unlock(&vexfs_filter_srcu, idx);
	return -ENOENT;
}

void vexfs_filter_put(int cookie)
{
	srcu_read_unlock(&vexfs_filter_srcu, cookie);
}

bool vexfs_filter_available(void)
{
	return vexfs_filter_registered;
}

/* ==== the struct_ops type ==== */

static int vexfs_filter_bpf_init(struct btf *btf)
{
	return 0;
}

/*
 * Filters run inside kernel_fpu_begin() with the collection locked, where
 * nothing may sleep: a sleepable program is refused at load.
 */
static int vexfs_filter_check_member(const struct btf_type *t,
				     const struct btf_member *member,
				     const struct bpf_prog *prog)
{
	return prog->sleepable ? -EINVAL : 0;
}

/* The name is the only member that is not a program: copy and check it. */
static int vexfs_filter_init_member(const struct btf_type *t,
				    const struct btf_member *member,
				    void *kdata, const void *udata)
{
	const struct vexfs_filter_ops *u = udata;
	struct vexfs_filter_ops *k = kdata;
	u32 moff = __btf_member_bit_offset(t, member) / 8;

	if (moff != offsetof(struct vexfs_filter_ops, name))
		return 0;
	if (!u->name[0] || strnlen(u->name, sizeof(u->name)) == sizeof(u->name))
		return -EINVAL;
	strscpy(k->name, u->name, sizeof(k->name));
	return 1;
}

static int vexfs_filter_validate(void *kdata)
{
	const struct vexfs_filter_ops *ops = kdata;

	return ops->admit && ops->name[0] ? 0 : -EINVAL;
}

static int vexfs_filter_reg(void *kdata, struct bpf_link *link)
{
	struct vexfs_filter_ops *ops = kdata;
	struct vexfs_filter *f, *it;
	int err;

	err = vexfs_filter_validate(kdata);
	if (err)
		return err;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->ops = ops;
	mutex_lock(&vexfs_filter_lock);
	list_for_each_entry(it, &vexfs_filters, node) {
		if (!strcmp(it->ops->name, ops->name)) {
			mutex_unlock(&vexfs_filter_lock);
			kfree(f);
			return -EEXIST;
		}
	}
	list_add_tail_rcu(&f->node, &vexfs_filters);
	mutex_unlock(&vexfs_filter_lock);
	pr_info("filter %s attached\n", ops->name);
	return 0;
}

static void vexfs_filter_unreg(void *kdata, struct bpf_link *link)
{
	struct vexfs_filter *f, *found = NULL;

	mutex_lock(&vexfs_filter_lock);
	list_for_each_entry(f, &vexfs_filters, node) {
		if (f->ops == kdata) {
			list_del_rcu(&f->node);
			found = f;
			break;
		}
	}
	mutex_unlock(&vexfs_filter_lock);
	if (!found)
		return;
	/* Searches that found it finish with it before the programs go. */
	synchronize_srcu(&vexfs_filter_srcu);
	pr_info("filter %s detached\n", found->ops->name);
	kfree(found);
}

static const struct bpf_func_proto *
vexfs_filter_func_proto(enum bpf_func_id func_id, const struct bpf_prog *prog)
{
	return bpf_base_func_proto(func_id, prog);
}

/* The context is read through its BTF type; writes are refused. */
static bool vexfs_filter_valid_access(int off, int size,
				      enum bpf_access_type type,
				      const struct bpf_prog *prog,
				      struct bpf_insn_access_aux *info)
{
	return bpf_tracing_btf_ctx_access(off, size, type, prog, info);
}

static const struct bpf_verifier_ops vexfs_filter_verifier_ops = {
	.get_func_proto = vexfs_filter_func_proto,
	.is_valid_access = vexfs_filter_valid_access,
};

/* What the BPF core calls the type's members through when no program is set. */
static int vexfs_filter_admit_stub(const struct vexfs_filter_ctx *ctx)
{
	return 0;
}

static struct vexfs_filter_ops vexfs_filter_stubs = {
	.admit = vexfs_filter_admit_stub,
};

static struct bpf_struct_ops vexfs_filter_struct_ops = {
	.verifier_ops = &vexfs_filter_verifier_ops,
	.init = vexfs_filter_bpf_init,
	.check_member = vexfs_filter_check_member,
	.init_member = vexfs_filter_init_member,
	.validate = vexfs_filter_validate,
	.reg = vexfs_filter_reg,
	.unreg = vexfs_filter_unreg,
	.cfi_stubs = &vexfs_filter_stubs,
	.name = "vexfs_filter_ops",
	.owner = THIS_MODULE,
};

/* Never fails the module load: without the type there are no filters. */
int vexfs_filter_init(void)
{
	int err = register_bpf_struct_ops(&vexfs_filter_struct_ops,
					  vexfs_filter_ops);

	if (err) {
		pr_warn("BPF filters unavailable: struct_ops registration failed (%d)\n",
			err);
		return 0;
	}
	vexfs_filter_registered = true;
	return 0;
}
