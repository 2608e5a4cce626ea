//! WebSocket frames as a client writes them, and server frames as a client reads them
//! (RFC 6455 §5.2, §5.3), byte by byte, lying headers included. For the frame reader's
//! own tests, the integration tests' raw peer and the bench's hostile clients, which
//! need frames no well-behaved client library would write. Not an API.

pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// The masking key of every frame built here.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame carrying `payload`.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(fin, opcode, payload.len() as u64);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// A masked frame's header, masking key included, declaring `len` payload bytes (which
/// the caller may never send).
pub fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    match len {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out
}

/// One unmasked server frame from the front of `buf`: its opcode, its payload, and the
/// bytes it took; `None` until `buf` holds a whole frame.
pub fn parse_server_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (first, second) = (*buf.first()?, *buf.get(1)?);
    let (len, start): (usize, usize) = match second & 0x7F {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = buf.get(start..start.checked_add(len)?)?.to_vec();
    Some((first & 0x0F, payload, start + len))
}
