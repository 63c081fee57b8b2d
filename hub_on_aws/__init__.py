"""The hub on AWS, when a stack sets hubDomain: everything besides the image, as components."""
