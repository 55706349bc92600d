// SPDX-License-Identifier: MIT
// Codec micro-benchmarks: decode and encode of each packet type a broker sees
// or sends, one packet per iteration, from buffers prepared outside the loop.
#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>

extern "C" {
#include "broker/codec.h"
}

namespace
{

std::vector<uint8_t> payload_of(size_t n)
{
	std::vector<uint8_t> p(n);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + 7);
	return p;
}

tern_bytes bytes(const char *s)
{
	return tern_bytes{(const uint8_t *)s, strlen(s)};
}

// One encoded packet, decoded again and again.
void decode_loop(benchmark::State &state, const std::vector<uint8_t> &pkt, uint8_t level)
{
	tern_packet p;

	for (auto _ : state) {
		ssize_t n = tern_codec_decode(pkt.data(), pkt.size(), level, 0, &p);

		benchmark::DoNotOptimize(n);
		benchmark::DoNotOptimize(p);
	}
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * (int64_t)pkt.size());
}

// One encoder call per iteration; encode() returns the packet length.
template <typename F> void encode_loop(benchmark::State &state, F encode)
{
	for (auto _ : state) {
		size_t n = encode();

		benchmark::DoNotOptimize(n);
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(state.iterations());
}

std::vector<uint8_t> publish_packet(size_t payload_len, uint8_t qos)
{
	std::vector<uint8_t> payload = payload_of(payload_len);
	tern_publish p = {};
	std::vector<uint8_t> buf(payload_len + 64);

	p.qos = qos;
	p.packet_id = qos ? 42 : 0;
	p.topic = bytes("sensors/building-7/floor-3/temperature");
	p.payload = tern_bytes{payload.data(), payload.size()};
	buf.resize(tern_codec_encode_publish(buf.data(), buf.size(), &p));
	return buf;
}

std::vector<uint8_t> connect_packet()
{
	tern_connect c = {};
	std::vector<uint8_t> buf(256);

	c.proto_level = TERN_PROTO_V311;
	c.clean_session = true;
	c.keepalive = 60;
	c.client_id = bytes("telemetry-device-000123");
	c.will = true;
	c.will_qos = 1;
	c.will_topic = bytes("devices/000123/status");
	c.will_payload = bytes("offline");
	c.has_username = true;
	c.username = bytes("device");
	buf.resize(tern_codec_encode_connect(buf.data(), buf.size(), &c, nullptr));
	return buf;
}

std::vector<uint8_t> subscribe_packet(size_t filters)
{
	std::vector<tern_bytes> f(filters, bytes("sensors/+/floor-3/#"));
	std::vector<uint8_t> opts(filters, 1);
	std::vector<uint8_t> buf(64 + filters * 32);

	buf.resize(tern_codec_encode_sub_list(buf.data(), buf.size(), TERN_PKT_SUBSCRIBE, 7,
					      f.data(), opts.data(), filters));
	return buf;
}

void BM_DecodePublish(benchmark::State &state)
{
	decode_loop(state, publish_packet((size_t)state.range(0), (uint8_t)state.range(1)),
		    TERN_PROTO_V311);
}
BENCHMARK(BM_DecodePublish)->ArgsProduct({{0, 64, 1024, 16384}, {0, 1}});

void BM_DecodeConnect(benchmark::State &state)
{
	decode_loop(state, connect_packet(), 0);
}
BENCHMARK(BM_DecodeConnect);

void BM_DecodeSubscribe(benchmark::State &state)
{
	decode_loop(state, subscribe_packet((size_t)state.range(0)), TERN_PROTO_V311);
}
BENCHMARK(BM_DecodeSubscribe)->Arg(1)->Arg(16);

void BM_DecodeAck(benchmark::State &state)
{
	uint8_t buf[4];
	size_t n = tern_codec_encode_ack(buf, sizeof(buf), (tern_pkt_type)state.range(0), 4242);

	decode_loop(state, std::vector<uint8_t>(buf, buf + n), TERN_PROTO_V311);
}
BENCHMARK(BM_DecodeAck)
    ->Arg(TERN_PKT_PUBACK)
    ->Arg(TERN_PKT_PUBREC)
    ->Arg(TERN_PKT_PUBREL)
    ->Arg(TERN_PKT_PUBCOMP);

void BM_DecodePingreq(benchmark::State &state)
{
	uint8_t buf[2];
	size_t n = tern_codec_encode_empty(buf, sizeof(buf), TERN_PKT_PINGREQ);

	decode_loop(state, std::vector<uint8_t>(buf, buf + n), TERN_PROTO_V311);
}
BENCHMARK(BM_DecodePingreq);

void BM_EncodePublish(benchmark::State &state)
{
	std::vector<uint8_t> payload = payload_of((size_t)state.range(0));
	std::vector<uint8_t> buf(payload.size() + 64);
	tern_publish p = {};

	p.qos = (uint8_t)state.range(1);
	p.packet_id = p.qos ? 42 : 0;
	p.topic = bytes("sensors/building-7/floor-3/temperature");
	p.payload = tern_bytes{payload.data(), payload.size()};
	encode_loop(state, [&] { return tern_codec_encode_publish(buf.data(), buf.size(), &p); });
}
BENCHMARK(BM_EncodePublish)->ArgsProduct({{0, 64, 1024, 16384}, {0, 1}});

// What a delivery encodes per subscriber: only the fixed header.
void BM_EncodePublishFixedHeader(benchmark::State &state)
{
	uint8_t hdr[TERN_CODEC_FIXED_HDR_MAX];

	size_t payload_len = (size_t)state.range(0);

	encode_loop(state, [&] {
		return tern_codec_encode_publish_fixed(hdr, 1, false, false, 38, payload_len);
	});
}
BENCHMARK(BM_EncodePublishFixedHeader)->Arg(64)->Arg(1024)->Arg(1 << 20);

void BM_EncodeConnack(benchmark::State &state)
{
	uint8_t buf[4];

	encode_loop(state, [&] { return tern_codec_encode_connack(buf, sizeof(buf), false, 0); });
}
BENCHMARK(BM_EncodeConnack);

void BM_EncodeAck(benchmark::State &state)
{
	uint8_t buf[4];

	encode_loop(state,
		    [&] { return tern_codec_encode_ack(buf, sizeof(buf), TERN_PKT_PUBACK, 4242); });
}
BENCHMARK(BM_EncodeAck);

void BM_EncodeSuback(benchmark::State &state)
{
	std::vector<uint8_t> codes((size_t)state.range(0), 1);
	std::vector<uint8_t> buf(codes.size() + 16);

	for (auto _ : state) {
		size_t n =
		    tern_codec_encode_suback(buf.data(), buf.size(), 7, codes.data(), codes.size());

		benchmark::DoNotOptimize(n);
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeSuback)->Arg(1)->Arg(16);

} // namespace

BENCHMARK_MAIN();
