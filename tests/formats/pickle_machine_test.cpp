#include "formats/pickle/pickle_machine.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "formats/pickle/checkpoint_tree.h"

namespace lmforge::pickle {
namespace {

using namespace std::string_literals;

PickleResult run(Arena& a, const std::string& s, uint64_t base = 0) {
  return run_pickle(a, {reinterpret_cast<const uint8_t*>(s.data()), s.size()}, "t.pkl", base);
}

// Runs `s` and returns the error message; fails the test if it loads.
std::string error_of(const std::string& s) {
  Arena a;
  try {
    run(a, s);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "pickle loaded but should have been refused";
  return "";
}

// torch's layout: ('storage', torch.FloatStorage, '0', 'cpu', 6) BINPERSID, then
// _rebuild_tensor_v2(storage, 0, (2,3), (3,1), False, OrderedDict()).
const std::string kTensorPickle =
    "\x80\x02"
    "}q\x00"
    "X\x01\x00\x00\x00w"
    "ctorch._utils\n_rebuild_tensor_v2\nq\x01"
    "((X\x07\x00\x00\x00storage"
    "ctorch\nFloatStorage\nq\x02"
    "X\x01\x00\x00\x00" "0"
    "X\x03\x00\x00\x00" "cpu"
    "K\x06tq\x03Q"
    "K\x00K\x02K\x03\x86K\x03K\x01\x86\x89"
    "ccollections\nOrderedDict\nq\x04)Rq\x05"
    "tq\x06Rq\x07"
    "s."s;

TEST(PickleMachine, BuildsScalars) {
  Arena a;
  const std::string p =
      "\x80\x02("
      "K\x05"
      "J\xff\xff\xff\xff"
      "M\x01\x02"
      "\x8a\x01\xff"
      "\x8a\x00"
      "\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80"
      "G\x3f\xf8\x00\x00\x00\x00\x00\x00"
      "N\x88\x89"
      "X\x02\x00\x00\x00hi"
      "U\x02" "ab"
      "C\x02\x00\x01"
      "t."s;
  auto r = run(a, p);
  ASSERT_EQ(r.root->kind, Kind::Tuple);
  const auto& it = r.root->items;
  ASSERT_EQ(it.size(), 13u);
  EXPECT_EQ(it[0]->i, 5);
  EXPECT_EQ(it[1]->i, -1);
  EXPECT_EQ(it[2]->i, 0x0201);
  EXPECT_EQ(it[3]->i, -1);
  EXPECT_EQ(it[4]->i, 0);
  EXPECT_EQ(it[5]->i, INT64_MIN);
  EXPECT_EQ(it[6]->kind, Kind::Float);
  EXPECT_EQ(it[6]->f, 1.5);
  EXPECT_EQ(it[7]->kind, Kind::None);
  EXPECT_TRUE(it[8]->flag);
  EXPECT_FALSE(it[9]->flag);
  EXPECT_EQ(it[10]->str, "hi");
  EXPECT_EQ(it[11]->str, "ab");
  EXPECT_EQ(it[11]->kind, Kind::Str);
  EXPECT_EQ(it[12]->kind, Kind::Bytes);
  EXPECT_EQ(it[12]->str, std::string("\x00\x01", 2));
  EXPECT_EQ(r.protocol, 2);
  EXPECT_EQ(r.end, p.size());
}

TEST(PickleMachine, BuildsContainersAndMemo) {
  Arena a;
  const std::string p =
      "\x80\x02}q\x00(X\x01\x00\x00\x00" "a](K\x01K\x02" "eq\x01X\x01\x00\x00\x00" "bh\x01"
      "X\x01\x00\x00\x00" "cK\x07K\x08\x86X\x01\x00\x00\x00" "dK\x09\x85u"
      "K\x03]K\x04" "as."s;
  auto r = run(a, p);
  ASSERT_EQ(r.root->kind, Kind::Dict);
  const auto& d = r.root->dict;
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].first->str, "a");
  EXPECT_EQ(d[0].second->items.size(), 2u);
  EXPECT_EQ(d[1].second, d[0].second);  // memo gives the same object
  EXPECT_EQ(d[2].second->items[1]->i, 8);
  EXPECT_EQ(d[3].second->items[0]->i, 9);
  EXPECT_EQ(d[4].first->i, 3);
  EXPECT_EQ(d[4].second->items[0]->i, 4);
}

TEST(PickleMachine, BuildsProtocol0Text) {
  Arena a;
  auto r = run(a, "(lp0\nI01\naI00\naI42\naL-123L\naF1.5\nag0\na(dp1\nI7\nI8\nsa."s);
  ASSERT_EQ(r.root->kind, Kind::List);
  const auto& it = r.root->items;
  ASSERT_EQ(it.size(), 7u);
  EXPECT_EQ(it[0]->kind, Kind::Bool);
  EXPECT_TRUE(it[0]->flag);
  EXPECT_FALSE(it[1]->flag);
  EXPECT_EQ(it[2]->i, 42);
  EXPECT_EQ(it[3]->i, -123);
  EXPECT_EQ(it[4]->f, 1.5);
  EXPECT_EQ(it[5], r.root);  // a list that contains itself
  EXPECT_EQ(it[6]->dict[0].first->i, 7);
}

TEST(PickleMachine, BuildsProtocol4Ops) {
  Arena a;
  std::string body =
      "\x8c\x0b" "collections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94"
      "\x8c\x01k\x8d\x02\x00\x00\x00\x00\x00\x00\x00vvs"
      "\x8f(K\x01K\x02\x90"
      "\x8e\x01\x00\x00\x00\x00\x00\x00\x00z"
      "\x87."s;
  std::string frame(8, '\0');
  frame[0] = static_cast<char>(body.size());
  auto r = run(a, "\x80\x04\x95"s + frame + body);
  ASSERT_EQ(r.root->kind, Kind::Tuple);
  const Object* od = r.root->items[0];
  ASSERT_EQ(od->kind, Kind::Dict);
  EXPECT_TRUE(od->flag);
  EXPECT_EQ(od->dict[0].second->str, "vv");
  EXPECT_EQ(r.root->items[1]->kind, Kind::Set);
  EXPECT_EQ(r.root->items[1]->items.size(), 2u);
  EXPECT_EQ(r.root->items[2]->kind, Kind::Bytes);
  EXPECT_EQ(r.root->items[2]->str, "z");
  EXPECT_EQ(r.protocol, 4);
}

TEST(PickleMachine, RebuildsTensorFromStorage) {
  Arena a;
  auto r = run(a, kTensorPickle);
  ASSERT_EQ(r.root->kind, Kind::Dict);
  const Object* t = r.root->dict.at(0).second;
  ASSERT_EQ(t->kind, Kind::Tensor);
  const auto& ti = t->tensor();
  EXPECT_EQ(ti.dtype, DType::F32);
  EXPECT_EQ(ti.size, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(ti.stride, (std::vector<uint64_t>{3, 1}));
  EXPECT_EQ(ti.storage_offset, 0u);
  EXPECT_EQ(ti.storage->storage().key, "0");
  EXPECT_EQ(ti.storage->storage().numel, 6u);
  EXPECT_EQ(ti.storage->storage().location, "cpu");
  ASSERT_EQ(r.storages.size(), 1u);
}

TEST(PickleMachine, RebuildsV3TensorAndParameter) {
  Arena a;
  const std::string p =
      "\x80\x02" "ctorch._utils\n_rebuild_parameter\n"
      "(ctorch._utils\n_rebuild_tensor_v3\n"
      "((X\x07\x00\x00\x00storagectorch\nUntypedStorage\nX\x01\x00\x00\x00" "3X\x03\x00\x00\x00" "cpuK\x08tQ"
      "K\x01K\x03\x85K\x01\x85\x89" "ccollections\nOrderedDict\n)Rctorch\nbfloat16\ntR"
      "\x88" "ccollections\nOrderedDict\n)RtR."s;
  auto r = run(a, p);
  ASSERT_EQ(r.root->kind, Kind::Tensor);
  EXPECT_EQ(r.root->tensor().dtype, DType::BF16);
  EXPECT_EQ(r.root->tensor().storage_offset, 1u);
  EXPECT_TRUE(r.root->tensor().storage->storage().untyped);
}

TEST(PickleMachine, NativeHelpers) {
  Arena a;
  const std::string p =
      "\x80\x02("
      "c_codecs\nencode\nX\x03\x00\x00\x00\xc3\xbf" "aX\x06\x00\x00\x00latin1\x86R"
      "ctorch\nSize\nK\x02K\x03\x86\x85R"
      "ctorch\ndevice\nX\x04\x00\x00\x00" "cudaK\x01\x86R"
      "cargparse\nNamespace\n)\x81}X\x02\x00\x00\x00lrG\x3f\xe0\x00\x00\x00\x00\x00\x00sb"
      "t."s;
  auto r = run(a, p);
  const auto& it = r.root->items;
  ASSERT_EQ(it.size(), 4u);
  EXPECT_EQ(it[0]->kind, Kind::Bytes);
  EXPECT_EQ(it[0]->str, "\xff" "a");
  EXPECT_EQ(it[1]->kind, Kind::Tuple);
  EXPECT_EQ(it[1]->items[1]->i, 3);
  EXPECT_EQ(it[2]->str, "cuda:1");
  ASSERT_EQ(it[3]->kind, Kind::Dict);
  EXPECT_EQ(it[3]->dict.at(0).second->f, 0.5);
}

TEST(PickleMachine, BuildOnOrderedDictIsIgnored) {
  Arena a;
  auto r = run(a, "\x80\x02" "ccollections\nOrderedDict\n)R}X\x01\x00\x00\x00xK\x01sb."s);
  EXPECT_TRUE(r.root->dict.empty());
}

TEST(PickleMachine, LegacyMagicIsABigInt) {
  Arena a;
  auto r = run(a, "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."s);
  EXPECT_EQ(r.root->kind, Kind::BigInt);
  EXPECT_EQ(r.root->str.size(), 10u);
}

TEST(PickleMachine, ErrorsCarryTheAbsoluteOffset) {
  Arena a;
  try {
    run(a, "\x80\x02N" "cos\nsystem\n"s, 1000);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.offset(), 1003u);
    EXPECT_EQ(e.message(), "refusing to load: the pickle references 'os.system', which is not an allowed global");
  }
}

TEST(PickleMachineHostile, RefusesDisallowedGlobals) {
  EXPECT_NE(error_of("cos\nsystem\n(X\x02\x00\x00\x00lstR."s).find("'os.system', which is not an allowed global"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" "cbuiltins\neval\n"s).find("'builtins.eval'"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" "cposix\nsystem\n"s).find("'posix.system'"), std::string::npos);
  EXPECT_NE(error_of("\x80\x04\x8c\x02os\x8c\x06system\x93."s).find("'os.system'"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" "ctorch\nload\n."s).find("'torch.load'"), std::string::npos);
  // A module name that smuggles a newline-free but odd byte is quoted safely.
  EXPECT_NE(error_of("c\x1b[31m\nx\n"s).find("\\x1b"), std::string::npos);
}

TEST(PickleMachineHostile, RefusesObjectCreatingOpcodes) {
  EXPECT_NE(error_of("(ios\nsystem\n."s).find("INST"), std::string::npos);
  EXPECT_NE(error_of("(ccollections\nOrderedDict\no."s).find("OBJ"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02\x82\x01."s).find("EXT1"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02\x83\x01\x00."s).find("EXT1/2/4"), std::string::npos);
  EXPECT_NE(error_of("Pabc\n."s).find("PERSID"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02N0N."s).find("POP"), std::string::npos);
  EXPECT_NE(error_of("\x80\x05\x97."s).find("out-of-band"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02\xff."s).find("unknown pickle opcode 0xff"), std::string::npos);
}

TEST(PickleMachineHostile, RefusesCallsOnAllowedNonCallables) {
  EXPECT_NE(error_of("\x80\x02" "ctorch\nFloatStorage\n)\x81."s).find("NEWOBJ on the global 'torch.FloatStorage'"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n)\x81."s).find("NEWOBJ"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" "ctorch\nFloatStorage\nK\x05\x85R."s).find("REDUCE on the global 'torch.FloatStorage' is not allowed"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02X\x01\x00\x00\x00x)R."s).find("not an allowed callable"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02]K\x01\x85" "b."s).find("BUILD on a list"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" "c_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00rot13\x86R."s).find("rot13"), std::string::npos);
}

TEST(PickleMachineHostile, TypeChecksContainerOps) {
  EXPECT_NE(error_of("\x80\x02]K\x01K\x02s."s).find("SETITEM on a list"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02](K\x01K\x02u."s).find("SETITEMS on a list"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02}K\x01" "a."s).find("APPEND on a dict"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02)(K\x01" "e."s).find("APPENDS on a tuple"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02]K\x01K\x02\x86K\x03s."s).find("SETITEM"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02}K\x01K\x02sK\x01K\x03s."s).find("duplicate key"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02}]K\x02s."s).find("dict keys of type list"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02]\x8f(K\x01\x90."s).find("STOP with 2 values"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02](K\x01\x90."s).find("ADDITEMS on a list"), std::string::npos);
}

TEST(PickleMachineHostile, StackAndMarkDiscipline) {
  EXPECT_NE(error_of("\x80\x02."s).find("STOP with 0 values"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02(K\x01."s).find("unclosed MARK"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02K\x01(a."s).find("underflow"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02t."s).find("needs a MARK"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02\x86."s).find("underflow"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02N\x80\x02."s).find("PROTO opcode after"), std::string::npos);
  EXPECT_NE(error_of("\x80\x06N."s).find("protocol 6"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02N"s).find("without a STOP"), std::string::npos);
}

TEST(PickleMachineHostile, DeepNestingIsBoundedAndIterative) {
  EXPECT_NE(error_of("\x80\x02" + std::string(100000, '(')).find("MARKs nest deeper than 1000"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" + std::string(100000, ']')).find("without a STOP"), std::string::npos);
  // 100000 lists, each appended into the one below it: a legal but absurdly deep value. It
  // must load and be destroyed without recursion, and the tree walk must refuse it cleanly.
  {
    Arena a;
    auto r = run(a, "\x80\x02" + std::string(100000, ']') + std::string(99999, 'a') + ".");
    ASSERT_EQ(r.root->kind, Kind::List);
    EXPECT_THROW(walk_checkpoint(r.root, "t.pkl"), Error);
  }
  // Stack limit.
  PickleLimits lim;
  lim.max_stack = 1000;
  Arena a;
  const std::string many = "\x80\x02" + std::string(2000, 'N') + ".";
  EXPECT_THROW(run_pickle(a, {reinterpret_cast<const uint8_t*>(many.data()), many.size()}, "t", 0, lim), Error);
}

TEST(PickleMachineHostile, MemoMisuse) {
  EXPECT_NE(error_of("\x80\x02j\x05\x00\x00\x00."s).find("memo entry 5, which was never stored"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02h\x00."s).find("never stored"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02q\x00."s).find("underflow"), std::string::npos);
  EXPECT_NE(error_of("g99999999999999999999999\n."s).find("64 bits"), std::string::npos);
}

TEST(PickleMachineHostile, LengthsAreBoundedByTheInput) {
  EXPECT_NE(error_of("\x80\x02X\xff\xff\xff\xff"s).find("truncated"), std::string::npos);
  EXPECT_NE(error_of("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff" "abc."s).find("truncated"), std::string::npos);
  EXPECT_NE(error_of("\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x80."s).find("truncated"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02T\xff\xff\xff\xff."s).find("negative"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02\x8b\x00\x00\x00\x10."s).find("too large"), std::string::npos);
  EXPECT_NE(error_of("\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7fN."s).find("frame"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02X\x02\x00\x00\x00\xc3\x28."s).find("UTF-8"), std::string::npos);
  EXPECT_NE(error_of("c" + std::string(5000, 'a')).find("no newline"), std::string::npos);
}

TEST(PickleMachineHostile, TruncatedAtEveryByteFailsCleanly) {
  for (size_t n = 0; n < kTensorPickle.size(); ++n) {
    Arena a;
    EXPECT_THROW(run(a, kTensorPickle.substr(0, n)), Error) << n;
  }
}

TEST(PickleMachineHostile, MalformedStorageAndTensorArguments) {
  // Persistent ids that are not storages.
  EXPECT_NE(error_of("\x80\x02K\x01Q."s).find("persistent id"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02(X\x06\x00\x00\x00moduleK\x01K\x02K\x03tQ."s).find("'module' is not allowed"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02(X\x07\x00\x00\x00storageccollections\nOrderedDict\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x01tQ."s).find("instead of a storage type"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x04\x00\x00\x00../0X\x03\x00\x00\x00" "cpuK\x01tQ."s).find("characters other than"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuJ\xff\xff\xff\xfftQ."s).find("non-negative"), std::string::npos);

  const std::string storage = "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x06tQ"s;
  const std::string v2 = "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n("s + storage;
  const std::string hooks = "\x89N"s;
  // Negative size.
  EXPECT_NE(error_of(v2 + "K\x00J\xff\xff\xff\xff\x85K\x01\x85"s + hooks + "tR.").find("non-negative"), std::string::npos);
  // Size and stride ranks differ.
  EXPECT_NE(error_of(v2 + "K\x00K\x02K\x03\x86K\x01\x85"s + hooks + "tR.").find("2 sizes but 1 strides"), std::string::npos);
  // Too many dimensions.
  std::string big = v2 + "K\x00("s + std::string(65 * 2, '\0') + "t";
  for (size_t i = 0; i < 65; ++i) { big[big.size() - 1 - 2 * 65 + 2 * i] = 'K'; big[big.size() - 2 * 65 + 2 * i] = 1; }
  EXPECT_NE(error_of(big + "K\x01\x85" + hooks + "tR.").find("dimensions"), std::string::npos);
  // Wrong arity, non-storage first argument, conj bit.
  EXPECT_NE(error_of(v2 + "K\x00tR."s).find("arguments"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(NK\x00K\x01\x85K\x01\x85\x89NtR."s).find("needs a storage"), std::string::npos);
  EXPECT_NE(error_of(v2 + "K\x00K\x01\x85K\x01\x85"s + hooks + "}X\x08\x00\x00\x00" "conj_bit\x88stR."s).find("'conj_bit' flag"), std::string::npos);
  // Untyped storage without a dtype.
  EXPECT_NE(error_of("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nUntypedStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x06tQK\x00K\x01\x85K\x01\x85\x89NtR."s).find("untyped"), std::string::npos);
}

TEST(CheckpointTree, NamesTensorsByPathAndKeepsValues) {
  Arena a;
  // {"state_dict": {"w": T}, "epoch": 3, "names": ["x"], "t": (T,)} with T the same tensor.
  const std::string inner = kTensorPickle.substr(2, kTensorPickle.size() - 3);  // the dict, no PROTO/STOP
  const std::string p = "\x80\x02}(X\x0a\x00\x00\x00state_dict"s + inner +
                        "X\x05\x00\x00\x00" "epochK\x03X\x05\x00\x00\x00names]X\x01\x00\x00\x00x" "a"
                        "X\x01\x00\x00\x00th\x07\x85u."s;
  auto r = run(a, p);
  auto tree = walk_checkpoint(r.root, "t.pkl");
  ASSERT_EQ(tree.tensors.size(), 2u);
  EXPECT_EQ(tree.tensors[0].name, "state_dict.w");
  EXPECT_EQ(tree.tensors[1].name, "t.0");
  EXPECT_EQ(tree.tensors[0].tensor, tree.tensors[1].tensor);
  EXPECT_EQ(tree.values["epoch"], 3);
  EXPECT_EQ(tree.values["names.0"], "x");
}

TEST(CheckpointTree, RefusesDuplicateNames) {
  Arena a;
  const std::string inner = kTensorPickle.substr(2, kTensorPickle.size() - 3);
  // {"a.w": T, "a": {"w": T}}
  const std::string p = "\x80\x02}(X\x01\x00\x00\x00" "a"s + inner + "X\x03\x00\x00\x00" "a.wh\x07u."s;
  auto r = run(a, p);
  EXPECT_THROW(walk_checkpoint(r.root, "t.pkl"), Error);
}

TEST(CheckpointTree, SharedContainersCostLinearTime) {
  // l0 = [1]; l_{k+1} = [l_k, l_k]: 2^40 paths, 41 containers.
  std::string p = "\x80\x02]K\x01" "aq\x00"s;
  for (int k = 0; k < 40; ++k) {
    p += "h" + std::string(1, static_cast<char>(k)) + "\x86q" + std::string(1, static_cast<char>(k + 1));
  }
  p += ".";
  Arena a;
  auto r = run(a, p);
  auto tree = walk_checkpoint(r.root, "t.pkl");
  EXPECT_TRUE(tree.tensors.empty());
  EXPECT_FALSE(tree.warnings.empty());
}

TEST(CheckpointTree, CyclesTerminate) {
  Arena a;
  auto r = run(a, "\x80\x02]q\x00h\x00" "a."s);
  auto tree = walk_checkpoint(r.root, "t.pkl");
  EXPECT_TRUE(tree.tensors.empty());
}

}  // namespace
}  // namespace lmforge::pickle

namespace lmforge::pickle {
namespace {

TEST(CheckpointTree, RefusesOverlongKeyPaths) {
  Arena a;
  const std::string key(2000, 'k');
  const std::string p = "\x80\x02}X\xd0\x07\x00\x00"s + key + "K\x01s.";
  auto r = run(a, p);
  try {
    walk_checkpoint(r.root, "t.pkl");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("longer than 1024 bytes"), std::string::npos);
  }
}

TEST(PickleMachineHostile, CopyingCallsAreBudgeted) {
  PickleLimits lim;
  lim.max_objects = 100;
  std::string p = "\x80\x02]q\x00("s + std::string(50, 'N') + "e" + "cbuiltins\nset\nq\x01";
  for (int i = 0; i < 3; ++i) p += "h\x01h\x00\x85R"s;
  p += ".";
  Arena a;
  try {
    run_pickle(a, {reinterpret_cast<const uint8_t*>(p.data()), p.size()}, "t", 0, lim);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("copies more than 100 values"), std::string::npos);
  }
}

}  // namespace
}  // namespace lmforge::pickle
