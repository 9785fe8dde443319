package identity

// idWeights are the GB 11643-1999 weights of the first 17 digits.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps the weighted sum modulo 11 to the check character.
const idCheckChars = "10X98765432"

// IDCheckDigit returns the GB 11643 check character ('0'–'9' or 'X') for the
// first 17 digits of a resident ID number. It returns 0 when first17 is not
// exactly 17 ASCII digits.
func IDCheckDigit(first17 string) byte {
	if len(first17) != 17 {
		return 0
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0
		}
		sum += int(c-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// LuhnValid reports whether digits, a string of ASCII digits, passes the Luhn
// (mod 10) check used by bank card numbers.
func LuhnValid(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// LuhnCheckDigit returns the digit that, appended to payload, makes the whole
// number pass LuhnValid. It returns 0 when payload holds anything but ASCII
// digits.
func LuhnCheckDigit(payload string) byte {
	for d := byte('0'); d <= '9'; d++ {
		if LuhnValid(payload + string(d)) {
			return d
		}
	}
	return 0
}
