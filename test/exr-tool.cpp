// A few lines against the OpenEXR library (libopenexr-dev), for what oiiotool cannot do; compiled by
// test/exr-wild.test.ts at run time, and the tool test/fixtures/exr-wild/ was made with:
//   decode IN OUT                 every channel read by the library, written uncompressed (same types, sampling, pLinear)
//   recode IN OUT COMP X Y W H [T] a W x H crop at (X, Y) of IN's data window, channels and flags kept, compressed
//                                 with COMP (none, zip, b44, b44a, dwaa, dwab), in T x T tiles if T is given
//   plinear COMP OUT W H          HALF "L" (pLinear) and "Y", FLOAT "Z" (pLinear, which B44 stores raw)
//   synth COMP OUT                DWA's cases: subsampled Y/RY/BY, a FLOAT R/G/B set, a pLinear lone channel, A,
//                                 UINT, an unknown channel, an odd-sized window with a negative origin
#include <ImfInputFile.h>
#include <ImfOutputFile.h>
#include <ImfTiledOutputFile.h>
#include <ImfChannelList.h>
#include <ImfFrameBuffer.h>
#include <ImfHeader.h>
#include <ImfCompression.h>
#include <ImfTileDescription.h>
#include <ImathBox.h>
#include <half.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
using namespace Imf;
using namespace Imath;

static Compression named(const std::string &s) {
  const char *names[] = {"none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab"};
  for (int i = 0; i < 10; i++) if (s == names[i]) return Compression(i);
  std::exit(2);
}

struct Planes {
  FrameBuffer fb;
  std::vector<std::vector<char>> store;
};

// Buffers for every channel of `channels` over the window `dw`, each sample where Slice expects it.
static void allocate(Planes &p, const ChannelList &channels, const Box2i &dw) {
  int W = dw.max.x - dw.min.x + 1, H = dw.max.y - dw.min.y + 1;
  for (ChannelList::ConstIterator c = channels.begin(); c != channels.end(); ++c) {
    const Channel &ch = c.channel();
    int nx = W / ch.xSampling, ny = H / ch.ySampling;
    size_t size = ch.type == HALF ? 2 : 4;
    p.store.emplace_back(size_t(nx) * ny * size);
    char *base = p.store.back().data() - (dw.min.x / ch.xSampling) * long(size) - (dw.min.y / ch.ySampling) * long(size) * nx;
    p.fb.insert(c.name(), Slice(ch.type, base, size, size * nx, ch.xSampling, ch.ySampling));
  }
}

static void write(const char *out, Header h, Planes &p, int tile) {
  const Box2i &dw = h.dataWindow();
  if (tile > 0) {
    h.setTileDescription(TileDescription(tile, tile, ONE_LEVEL));
    TiledOutputFile f(out, h);
    f.setFrameBuffer(p.fb);
    f.writeTiles(0, f.numXTiles() - 1, 0, f.numYTiles() - 1);
  } else {
    OutputFile f(out, h);
    f.setFrameBuffer(p.fb);
    f.writePixels(dw.max.y - dw.min.y + 1);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  std::string what = argv[1];
  if (what == "decode" && argc == 4) {
    InputFile in(argv[2]);
    const Header &ih = in.header();
    Box2i dw = ih.dataWindow();
    Header oh(ih.displayWindow(), dw);
    oh.compression() = NO_COMPRESSION;
    for (ChannelList::ConstIterator c = ih.channels().begin(); c != ih.channels().end(); ++c) oh.channels().insert(c.name(), c.channel());
    Planes p;
    allocate(p, ih.channels(), dw);
    in.setFrameBuffer(p.fb);
    in.readPixels(dw.min.y, dw.max.y);
    write(argv[3], oh, p, 0);
    return 0;
  }
  if (what == "recode" && (argc == 9 || argc == 10)) {
    InputFile in(argv[2]);
    const Header &ih = in.header();
    Box2i dw = ih.dataWindow();
    Planes p;
    allocate(p, ih.channels(), dw);
    in.setFrameBuffer(p.fb);
    in.readPixels(dw.min.y, dw.max.y);
    int x = std::atoi(argv[5]), y = std::atoi(argv[6]), w = std::atoi(argv[7]), hgt = std::atoi(argv[8]);
    Header oh(Box2i(V2i(0, 0), V2i(w - 1, hgt - 1)), Box2i(V2i(0, 0), V2i(w - 1, hgt - 1)));
    oh.compression() = named(argv[4]);
    Planes q;
    for (ChannelList::ConstIterator c = ih.channels().begin(); c != ih.channels().end(); ++c) oh.channels().insert(c.name(), c.channel());
    allocate(q, oh.channels(), oh.dataWindow());
    // Copy the crop sample by sample (sampling divides the crop's origin and size).
    int k = 0;
    for (ChannelList::ConstIterator c = ih.channels().begin(); c != ih.channels().end(); ++c, ++k) {
      const Channel &ch = c.channel();
      size_t size = ch.type == HALF ? 2 : 4;
      int snx = (dw.max.x - dw.min.x + 1) / ch.xSampling, dnx = w / ch.xSampling, dny = hgt / ch.ySampling;
      for (int j = 0; j < dny; j++)
        std::memcpy(q.store[k].data() + size_t(j) * dnx * size,
                    p.store[k].data() + (size_t(y / ch.ySampling + j) * snx + x / ch.xSampling) * size, dnx * size);
    }
    write(argv[3], oh, q, argc == 10 ? std::atoi(argv[9]) : 0);
    return 0;
  }
  if (what == "plinear" && argc == 6) {
    int W = std::atoi(argv[4]), H = std::atoi(argv[5]);
    Header h(W, H);
    h.compression() = named(argv[2]);
    h.channels().insert("L", Channel(HALF, 1, 1, true));
    h.channels().insert("Y", Channel(HALF, 1, 1, false));
    h.channels().insert("Z", Channel(FLOAT, 1, 1, true));
    Planes p;
    allocate(p, h.channels(), h.dataWindow());
    half *L = (half *)p.store[0].data(), *Y = (half *)p.store[1].data();
    float *Z = (float *)p.store[2].data();
    unsigned s = 12345;
    for (int y = 0; y < H; y++) for (int x = 0; x < W; x++) {
      s = s * 1103515245u + 12345u;
      float noise = float((s >> 16) & 1023) / 1023.f;
      int i = y * W + x;
      // Log-like values over a wide range, a flat strip, negatives, zeros, infinities, NaN.
      float v = x < 8 ? 2.0f : (y < 4 ? -1.0f + x * 0.01f : std::log(1.0f + x * 0.37f + y * y * 0.05f) * 3.f - 2.f + noise * 0.2f);
      if (i == 100) v = INFINITY;
      if (i == 101) v = NAN;
      if (i == 102) v = 0.f;
      if (i == 103) v = -0.f;
      if (i == 104) v = 60000.f;
      L[i] = v; Y[i] = v; Z[i] = v * 1.5f;
    }
    write(argv[3], h, p, 0);
    return 0;
  }
  if (what == "synth" && argc == 4) {
    Box2i dw(V2i(-6, -4), V2i(45, 35)); // 52 x 40: the 2 x 2 chroma divides origin and size
    Header h(Box2i(V2i(-8, -8), V2i(47, 39)), dw);
    h.compression() = named(argv[2]);
    struct Ch { const char *name; PixelType type; int xs, ys; bool plinear; };
    std::vector<Ch> chs = {{"Y", HALF, 1, 1, false}, {"RY", HALF, 2, 2, false}, {"BY", HALF, 2, 2, false},
                           {"beauty.R", FLOAT, 1, 1, false}, {"beauty.G", FLOAT, 1, 1, false}, {"beauty.B", FLOAT, 1, 1, false},
                           {"beauty.A", HALF, 1, 1, false}, {"log.Y", HALF, 1, 1, true}, {"spec.R", HALF, 1, 1, false},
                           {"id", UINT, 1, 1, false}, {"depth.Z", FLOAT, 1, 1, false}};
    for (auto &c : chs) h.channels().insert(c.name, Channel(c.type, c.xs, c.ys, c.plinear));
    Planes p;
    allocate(p, h.channels(), dw);
    int k = 0;
    for (ChannelList::ConstIterator c = h.channels().begin(); c != h.channels().end(); ++c, ++k) {
      const Channel &ch = c.channel();
      int nx = 52 / ch.xSampling, ny = 40 / ch.ySampling;
      unsigned s = 777u + k * 31u;
      for (int j = 0; j < ny; j++) for (int i = 0; i < nx; i++) {
        s = s * 1664525u + 1013904223u;
        float noise = float((s >> 8) & 0xffff) / 65535.f - 0.5f;
        int x = i * ch.xSampling, y = j * ch.ySampling;
        // Smooth gradients, sharp edges, flat blocks, bright highlights, negatives and noise.
        float v = 0.5f + 0.4f * std::sin(x * 0.21f + k) * std::cos(y * 0.17f) + (x > 30 ? 0.3f : 0.f) + noise * (y > 20 ? 0.2f : 0.01f);
        if (y < 8 && x < 16) v = 0.25f * k;
        if ((x + y) % 23 == 0) v = 12.f + k;
        if (x > 40 && y > 30) v = -0.3f;
        size_t idx = size_t(j) * nx + i;
        char *d = p.store[k].data();
        if (ch.type == HALF) { half hv = v; std::memcpy(d + idx * 2, &hv, 2); }
        else if (ch.type == FLOAT) std::memcpy(d + idx * 4, &v, 4);
        else { uint32_t u = s; std::memcpy(d + idx * 4, &u, 4); }
      }
    }
    write(argv[3], h, p, 0);
    return 0;
  }
  return 2;
}
