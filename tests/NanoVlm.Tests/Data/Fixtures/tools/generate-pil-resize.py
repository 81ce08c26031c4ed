#!/usr/bin/python3
"""Regenerates images/photo.png (a 320x240 photo-like RGB image) and images/photo-56-pil.png, PIL's BILINEAR resize of it
to 56x56 (a 4x+ downscale), the reference the ImageProcessor tests compare against. Needs Pillow (Debian: python3-pil)."""
from PIL import Image, ImageChops, ImageFilter

red = Image.effect_mandelbrot((320, 240), (-2.0, -1.2, 1.0, 1.2), 60)
green = ImageChops.add(Image.linear_gradient("L").resize((320, 240)).rotate(90), Image.effect_noise((320, 240), 40), 2.0)
blue = Image.radial_gradient("L").resize((320, 240)).filter(ImageFilter.DETAIL)
photo = Image.merge("RGB", (red, green, blue))
photo.save("../images/photo.png")
photo.resize((56, 56), Image.BILINEAR).save("../images/photo-56-pil.png")
print("wrote photo.png and photo-56-pil.png with Pillow", Image.__version__ if hasattr(Image, "__version__") else "")

# Modes that SkiaSharp cannot write: a CMYK JPEG, a palette PNG and a 16-bit grayscale PNG, each with PIL's RGB view of it.
small = photo.crop((100, 60, 132, 92))
small.convert("CMYK").save("../images/cmyk.jpg", quality=95)
Image.open("../images/cmyk.jpg").convert("RGB").save("../images/cmyk-pil.png")
small.quantize(16).save("../images/palette.png")
Image.open("../images/palette.png").convert("RGB").save("../images/palette-pil.png")
Image.frombytes("I;16", (32, 32), bytes(range(256)) * 8).save("../images/gray16.png")
print("wrote cmyk.jpg, palette.png, gray16.png and their PIL RGB views")
